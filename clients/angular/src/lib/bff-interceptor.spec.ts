import { HttpClient, HttpErrorResponse } from '@angular/common/http';
import { TestBed } from '@angular/core/testing';
import { firstValueFrom } from 'rxjs';
import { alice, answerSession, Blank, navigate, setUp, settle } from '../testing/harness';

const ORIGIN = window.location.origin;

describe('provideOidcBff: HttpClient', () => {
  beforeEach(() => {
    document.cookie = 'XSRF-TOKEN=xsrf-value-1; Path=/';
  });
  afterEach(() => {
    document.cookie = 'XSRF-TOKEN=; Max-Age=0; Path=/';
  });

  it('an unsafe request to the app\'s origin echoes the XSRF-TOKEN cookie as X-XSRF-TOKEN', async () => {
    const h = await setUp();
    const client = TestBed.inject(HttpClient);
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      void firstValueFrom(client.request(method, '/api/chat/messages', { body: {} }));
      const request = h.http.expectOne({ method, url: '/api/chat/messages' });
      expect(request.request.headers.get('X-XSRF-TOKEN'), method).toBe('xsrf-value-1');
      request.flush({});
    }
  });

  it('a GET carries no CSRF header, and no request to another origin ever does', async () => {
    const h = await setUp();
    const client = TestBed.inject(HttpClient);
    void firstValueFrom(client.get('/api/chat/history'));
    expect(h.http.expectOne('/api/chat/history').request.headers.has('X-XSRF-TOKEN')).toBe(false);
    void firstValueFrom(client.post('https://other.example/api/x', {}));
    expect(h.http.expectOne('https://other.example/api/x').request.headers.has('X-XSRF-TOKEN')).toBe(false);
  });

  it('honours other cookie and header names', async () => {
    document.cookie = 'MY-XSRF=other-value; Path=/';
    onTestFinished(() => void (document.cookie = 'MY-XSRF=; Max-Age=0; Path=/'));
    const h = await setUp({ config: { xsrfCookieName: 'MY-XSRF', xsrfHeaderName: 'X-My-Xsrf' } });
    void firstValueFrom(TestBed.inject(HttpClient).post('/api/x', {}));
    expect(h.http.expectOne('/api/x').request.headers.get('X-My-Xsrf')).toBe('other-value');
  });

  it('calls to the BFF go with credentials; the app\'s files and other origins do not', async () => {
    const h = await setUp();
    const client = TestBed.inject(HttpClient);
    const urls = ['/api/chat/history', `${ORIGIN}/api/analytics/report`, '/assets/i18n/en.json', 'https://other.example/api/x'];
    for (const url of urls) void firstValueFrom(client.get(url));
    const sent = urls.map((url) => h.http.expectOne(url).request.withCredentials);
    expect(sent).toEqual([true, true, false, false]);
  });

  it('three 401s at once: one session request, then one trip to sign in, back to the current page', async () => {
    const h = await setUp({ routes: [{ path: '**', component: Blank }], initial: alice() });
    await navigate(h, '/reports?year=2031', alice());
    const client = TestBed.inject(HttpClient);
    const calls = ['/api/a', '/api/b', '/api/c'].map((url) => firstValueFrom(client.get(url)).catch((e: unknown) => e));
    for (const url of ['/api/a', '/api/b', '/api/c']) {
      h.http.expectOne(url).flush({ type: 'urn:oidc-bff:problem:unauthenticated' }, { status: 401, statusText: 'Unauthorized' });
    }
    await answerSession(h, { authenticated: false }); // exactly one pending, or this fails
    const errors = await Promise.all(calls);
    expect(errors.map((e) => (e as HttpErrorResponse).status)).toEqual([401, 401, 401]);
    expect(h.page.assigned).toEqual(['/api/login?returnTo=%2Freports%3Fyear%3D2031']);
    h.http.verify();
  });

  it('a 401 while the BFF session is alive came from the API itself: no trip to sign in', async () => {
    const h = await setUp({ initial: alice() });
    const call = firstValueFrom(TestBed.inject(HttpClient).get('/api/a')).catch((e: unknown) => e);
    h.http.expectOne('/api/a').flush(null, { status: 401, statusText: 'Unauthorized' });
    await answerSession(h, alice());
    expect(((await call) as HttpErrorResponse).status).toBe(401);
    expect(h.page.assigned).toEqual([]);
  });

  it('a 401 from another origin, or a 403, leads to no session check', async () => {
    const h = await setUp({ initial: alice() });
    const client = TestBed.inject(HttpClient);
    const calls = [
      firstValueFrom(client.get('https://other.example/api/a')).catch((e: unknown) => e),
      firstValueFrom(client.get('/api/analytics/report')).catch((e: unknown) => e),
    ];
    h.http.expectOne('https://other.example/api/a').flush(null, { status: 401, statusText: 'Unauthorized' });
    h.http.expectOne('/api/analytics/report').flush({ type: 'urn:oidc-bff:problem:forbidden' }, { status: 403, statusText: 'Forbidden' });
    const errors = (await Promise.all(calls)) as HttpErrorResponse[];
    expect(errors.map((e) => e.status)).toEqual([401, 403]);
    await settle();
    h.http.verify();
    expect(h.page.assigned).toEqual([]);
  });
});
