import { HttpClient } from '@angular/common/http';
import { TestBed } from '@angular/core/testing';
import { firstValueFrom } from 'rxjs';
import { alice, answerSession, Blank, navigate, setUp } from '../testing/harness';
import { BFF_FETCH_IMPLEMENTATION, BffFetch, BffHttpError } from './bff-fetch';
import { ServerSentEvent } from './event-stream';

interface Sent {
  url: string;
  init: RequestInit;
}

/** A `fetch` that records each call and answers with what the test queued. */
function fakeFetch() {
  const sent: Sent[] = [];
  const answers: (() => Response)[] = [];
  const impl = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    sent.push({ url: String(input), init: init ?? {} });
    const answer = answers.shift();
    if (!answer) throw new Error(`unexpected fetch ${String(input)}`);
    return answer();
  };
  return { sent, answers, impl };
}

const problem = (status: number, type: string) => () =>
  new Response(JSON.stringify({ type, title: 'Nope', status }), {
    status,
    headers: { 'Content-Type': 'application/problem+json' },
  });

async function setUpFetch(initial = alice()) {
  const fake = fakeFetch();
  const h = await setUp({
    routes: [{ path: '**', component: Blank }],
    initial,
    providers: [{ provide: BFF_FETCH_IMPLEMENTATION, useValue: fake.impl }],
  });
  return { h, fake, bff: TestBed.inject(BffFetch) };
}

describe('BffFetch', () => {
  beforeEach(() => {
    document.cookie = 'XSRF-TOKEN=stream-token; Path=/';
  });
  afterEach(() => {
    document.cookie = 'XSRF-TOKEN=; Max-Age=0; Path=/';
  });

  it('a POST to the BFF carries the CSRF header and goes with same-origin credentials', async () => {
    const { fake, bff } = await setUpFetch();
    fake.answers.push(() => new Response('ok'));
    await bff.fetch('/api/chat/stream', { method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json' } });
    const headers = new Headers(fake.sent[0].init.headers);
    expect(headers.get('X-XSRF-TOKEN')).toBe('stream-token');
    expect(headers.get('Content-Type')).toBe('application/json');
    expect(fake.sent[0].init.credentials).toBe('same-origin');
  });

  it('a GET, and anything sent to another origin, carries no CSRF header', async () => {
    const { fake, bff } = await setUpFetch();
    fake.answers.push(() => new Response('ok'), () => new Response('ok'));
    await bff.fetch('/api/chat/history');
    await bff.fetch('https://other.example/api/chat', { method: 'POST' });
    expect(fake.sent.map((s) => new Headers(s.init.headers).has('X-XSRF-TOKEN'))).toEqual([false, false]);
  });

  it('events() asks for an event stream and yields each event as it arrives', async () => {
    const { fake, bff } = await setUpFetch();
    let push!: (text: string) => void;
    let end!: () => void;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        push = (text) => controller.enqueue(new TextEncoder().encode(text));
        end = () => controller.close();
      },
    });
    fake.answers.push(() => new Response(body, { headers: { 'Content-Type': 'text/event-stream' } }));
    const events = bff.events('/api/chat/stream', { method: 'POST', body: '{"message":"hi"}' });
    push('data: {"token":"Hello"}\n\n');
    const first = await events.next();
    expect(first.value).toEqual<ServerSentEvent>({ event: 'message', data: '{"token":"Hello"}', id: '' });
    expect(new Headers(fake.sent[0].init.headers).get('Accept')).toBe('text/event-stream');
    push('event: done\ndata: {}\n\n');
    expect((await events.next()).value?.event).toBe('done');
    end();
    expect((await events.next()).done).toBe(true);
  });

  it('a 401 with the session gone: one session check, then sign-in back to this page, and BffHttpError(401)', async () => {
    const { h, fake, bff } = await setUpFetch();
    await navigate(h, '/chat', alice());
    fake.answers.push(problem(401, 'urn:oidc-bff:problem:unauthenticated'));
    const failure = bff.fetch('/api/chat/stream', { method: 'POST' }).catch((e: unknown) => e);
    await answerSession(h, { authenticated: false });
    const error = (await failure) as BffHttpError;
    expect(error).toBeInstanceOf(BffHttpError);
    expect(error.status).toBe(401);
    expect(error.problem?.['type']).toBe('urn:oidc-bff:problem:unauthenticated');
    expect(h.page.assigned).toEqual(['/api/login?returnTo=%2Fchat']);
  });

  it('a 401 here and one from HttpClient at the same time share one session check and one sign-in', async () => {
    const { h, fake, bff } = await setUpFetch();
    fake.answers.push(problem(401, 'urn:oidc-bff:problem:unauthenticated'));
    const fromFetch = bff.fetch('/api/chat/stream', { method: 'POST' }).catch((e: unknown) => e);
    const fromHttp = firstValueFrom(TestBed.inject(HttpClient).get('/api/analytics/report')).catch((e: unknown) => e);
    h.http.expectOne('/api/analytics/report').flush(null, { status: 401, statusText: 'Unauthorized' });
    await answerSession(h, { authenticated: false }); // exactly one pending
    await Promise.all([fromFetch, fromHttp]);
    expect(h.page.assigned.length).toBe(1);
    h.http.verify();
  });

  it('a 403 is BffHttpError(403) with the problem, and no session check', async () => {
    const { h, fake, bff } = await setUpFetch();
    fake.answers.push(problem(403, 'urn:oidc-bff:problem:forbidden'));
    const error = (await bff.fetch('/api/analytics/report').catch((e: unknown) => e)) as BffHttpError;
    expect(error.status).toBe(403);
    expect(error.problem?.['type']).toBe('urn:oidc-bff:problem:forbidden');
    h.http.verify();
    expect(h.page.assigned).toEqual([]);
  });

  it('a 401 from another origin is only an error', async () => {
    const { h, fake, bff } = await setUpFetch();
    fake.answers.push(() => new Response('no', { status: 401 }));
    const error = (await bff.fetch('https://other.example/x').catch((e: unknown) => e)) as BffHttpError;
    expect(error.status).toBe(401);
    expect(error.problem).toBeNull();
    h.http.verify();
    expect(h.page.assigned).toEqual([]);
  });
});
