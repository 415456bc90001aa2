import { APP_BASE_HREF } from '@angular/common';
import { HttpFeature, HttpFeatureKind, HttpRequest } from '@angular/common/http';
import { HttpTestingController, provideHttpClientTesting, TestRequest } from '@angular/common/http/testing';
import { Component, EnvironmentProviders, Provider, provideZonelessChangeDetection } from '@angular/core';
import { TestBed } from '@angular/core/testing';
import { provideRouter, Router, Routes } from '@angular/router';
import { OidcBffConfig } from '../lib/config';
import { PageLocation } from '../lib/page-location';
import { provideOidcBff } from '../lib/provide-oidc-bff';
import { SessionInfo } from '../lib/session-info';
import { SessionStore } from '../lib/session-store';

/** Records the full-page navigations the library asks for instead of leaving the test page. */
export class RecordingPageLocation implements Pick<PageLocation, 'assign'> {
  readonly assigned: string[] = [];
  assign(url: string): void {
    this.assigned.push(url);
  }
}

@Component({ template: 'page' })
export class Blank {}

export function alice(overrides: Partial<SessionInfo> = {}): SessionInfo {
  return {
    authenticated: true,
    user: { sub: 'alice-sub', name: 'Alice Analyst', email: 'alice@example.test', roles: ['analyst', 'staff'] },
    expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    accessTokenExpiresAt: new Date(Date.now() + 60_000).toISOString(),
    logoutUrl: '/api/logout?sid=s1',
    csrfToken: 'csrf-1',
    ...overrides,
  };
}

export interface Harness {
  store: SessionStore;
  http: HttpTestingController;
  page: RecordingPageLocation;
  router: Router;
  /** The channel name this test's store uses (unique, so tests do not hear each other). */
  channel: string;
}

let channelCounter = 0;

/**
 * A TestBed app with `provideOidcBff(config)`, a testing HTTP backend and recorded page
 * navigations. `provideOidcBff` starts the store, which asks for the session at once; `initial`
 * answers that first request (pass `null` to leave it pending).
 */
export async function setUp(
  options: {
    config?: OidcBffConfig;
    routes?: Routes;
    initial?: SessionInfo | null;
    providers?: (Provider | EnvironmentProviders)[];
    httpFeatures?: HttpFeature<HttpFeatureKind>[];
  } = {},
): Promise<Harness> {
  const channel = `oidc-bff-test-${Date.now()}-${++channelCounter}`;
  const page = new RecordingPageLocation();
  TestBed.configureTestingModule({
    providers: [
      provideZonelessChangeDetection(),
      provideOidcBff({ crossTabChannel: channel, ...options.config }, ...(options.httpFeatures ?? [])),
      provideHttpClientTesting(),
      provideRouter(options.routes ?? [{ path: '**', component: Blank }]),
      { provide: APP_BASE_HREF, useValue: '/' },
      { provide: PageLocation, useValue: page },
      ...(options.providers ?? []),
    ],
  });
  const store = TestBed.inject(SessionStore);
  const http = TestBed.inject(HttpTestingController);
  const router = TestBed.inject(Router);
  const harness = { store, http, page, router, channel };
  if (options.initial !== null) await answerSession(harness, options.initial ?? { authenticated: false });
  return harness;
}

/**
 * Waits for exactly one pending session request, answers it with `info` and lets the store take
 * it in. (Fails when none comes, or when more than one is pending: the store must coalesce.)
 */
export async function answerSession(h: Harness, info: SessionInfo, headers: Record<string, string> = {}): Promise<TestRequest> {
  const isSession = (req: HttpRequest<unknown>) => req.url === '/api/session' && req.method === 'GET';
  let pending: TestRequest[] = [];
  await until(() => (pending = h.http.match(isSession)).length > 0, 'a GET /api/session');
  expect(pending.length, 'pending session requests').toBe(1);
  pending[0].flush(info, { headers });
  await settle();
  return pending[0];
}

/**
 * Navigates to `url`, answering every session request made on the way (the navigation's own,
 * and the guards') with `info`; resolves with the navigation's result.
 */
export async function navigate(h: Harness, url: string, info: SessionInfo): Promise<boolean> {
  let result: boolean | undefined;
  let failure: unknown;
  h.router.navigateByUrl(url).then(
    (value) => (result = value),
    (error: unknown) => (failure = error ?? new Error('navigation failed')),
  );
  const deadline = Date.now() + 2000;
  while (result === undefined && failure === undefined) {
    if (Date.now() > deadline) throw new Error(`navigation to ${url} did not finish`);
    for (const request of h.http.match((req) => req.url === '/api/session')) request.flush(info);
    if (vi.isFakeTimers()) await vi.advanceTimersByTimeAsync(1);
    else await new Promise<void>((resolve) => setTimeout(resolve, 1));
  }
  if (failure !== undefined) throw failure;
  return result!;
}

/** Lets pending promise callbacks run (microtasks only: safe under fake timers). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

/** Resolves with the next message on `channel` (as another tab of the app would receive it). */
export function nextMessage(channel: BroadcastChannel, timeoutMs = 2000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no message on ${channel.name} within ${timeoutMs} ms`)), timeoutMs);
    channel.addEventListener(
      'message',
      (event: MessageEvent) => {
        clearTimeout(timer);
        resolve(event.data);
      },
      { once: true },
    );
  });
}

/** Waits until `condition()` holds (checked every 5 ms), failing after `timeoutMs`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await settle();
  while (!condition()) {
    if (vi.isFakeTimers()) throw new Error(`${what}: not so (fake timers: advance them first)`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise<void>((resolve) => setTimeout(resolve, 5));
  }
}
