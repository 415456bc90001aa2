import { HttpXsrfTokenExtractor } from '@angular/common/http';
import { DOCUMENT, inject, Injectable, InjectionToken } from '@angular/core';
import { Router } from '@angular/router';
import { bffPath, handlesOwnUnauthorized } from './bff-url';
import { OIDC_BFF_CONFIG } from './config';
import { parseEventStream, ServerSentEvent } from './event-stream';
import { SessionStore } from './session-store';

/** A non-2xx answer to `BffFetch`. 401: the session was checked (and sign-in started if it is gone); 403: a role or the CSRF check. */
export class BffHttpError extends Error {
  constructor(
    readonly status: number,
    readonly url: string,
    /** The `application/problem+json` body (the BFF's errors), when there was one. */
    readonly problem: Record<string, unknown> | null,
  ) {
    super(`${url} answered ${status}${typeof problem?.['title'] === 'string' ? `: ${problem['title']}` : ''}`);
    this.name = 'BffHttpError';
  }
}

/** The `fetch` used by `BffFetch`; replaceable in tests. */
export const BFF_FETCH_IMPLEMENTATION = new InjectionToken<typeof fetch>('BFF_FETCH_IMPLEMENTATION', {
  providedIn: 'root',
  factory: () => (input, init) => fetch(input, init),
});

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/**
 * `fetch` for what `HttpClient` cannot do: read a response while it streams (server-sent
 * events; `HttpClient` hands over a body only when complete, and `EventSource` cannot POST or
 * send headers). For calls to the BFF it does what `provideOidcBff` does for `HttpClient`:
 * sends the CSRF header on unsafe methods and the cookies, and maps a 401 the same way (one
 * session check, then sign-in keeping the current URL) before throwing `BffHttpError`; 403 and
 * other non-2xx answers throw `BffHttpError` too. Requests elsewhere get no CSRF header.
 */
@Injectable({ providedIn: 'root' })
export class BffFetch {
  private readonly config = inject(OIDC_BFF_CONFIG);
  private readonly xsrf = inject(HttpXsrfTokenExtractor);
  private readonly store = inject(SessionStore);
  private readonly router = inject(Router);
  private readonly document = inject(DOCUMENT);
  private readonly fetchImpl = inject(BFF_FETCH_IMPLEMENTATION);

  /** Resolves with a 2xx response (its body not read yet), else rejects with `BffHttpError`. */
  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const path = bffPath(url, this.config, this.document.location);
    const method = (init.method ?? 'GET').toUpperCase();
    const headers = new Headers(init.headers);
    if (path !== null && !SAFE_METHODS.has(method) && !headers.has(this.config.xsrfHeaderName)) {
      const token = this.xsrf.getToken();
      if (token !== null) headers.set(this.config.xsrfHeaderName, token);
    }
    const response = await this.fetchImpl(url, { ...init, method, headers, credentials: init.credentials ?? 'same-origin' });
    if (response.ok) return response;

    const problem = await readProblem(response);
    if (response.status === 401 && path !== null && !handlesOwnUnauthorized(path, this.config)) {
      await this.store.handleUnauthorized(this.router.url);
    }
    throw new BffHttpError(response.status, url, problem);
  }

  /**
   * Yields each server-sent event of the response as it arrives (`Accept: text/event-stream`
   * unless `init` says otherwise); returns when the stream ends. Stopping early (`break`, or
   * `init.signal` aborting) cancels the response.
   */
  async *events(url: string, init: RequestInit = {}): AsyncGenerator<ServerSentEvent, void, undefined> {
    const headers = new Headers(init.headers);
    if (!headers.has('Accept')) headers.set('Accept', 'text/event-stream');
    const response = await this.fetch(url, { ...init, headers });
    if (!response.body) return;
    yield* parseEventStream(response.body);
  }
}

async function readProblem(response: Response): Promise<Record<string, unknown> | null> {
  if (!/json/i.test(response.headers.get('Content-Type') ?? '')) {
    await response.body?.cancel().catch(() => undefined);
    return null;
  }
  try {
    const body: unknown = await response.json();
    return typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
