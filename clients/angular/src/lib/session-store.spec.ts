import { TestBed } from '@angular/core/testing';
import { alice, answerSession, Blank, navigate, setUp, settle } from '../testing/harness';
import { SessionStore } from './session-store';

describe('SessionStore', () => {
  afterEach(() => {
    document.cookie = 'XSRF-TOKEN=; Max-Age=0; Path=/';
  });

  it('is not loaded until the BFF answers, then holds its answer in signals', async () => {
    const h = await setUp({ initial: null });
    expect(h.store.loaded()).toBe(false);
    expect(h.store.authenticated()).toBe(false);

    const info = alice({ expiresAt: '2031-01-02T03:04:05Z' });
    await answerSession(h, info);

    expect(h.store.loaded()).toBe(true);
    expect(h.store.authenticated()).toBe(true);
    expect(h.store.user()).toEqual(info.user);
    expect(h.store.roles()).toEqual(['analyst', 'staff']);
    expect(h.store.displayName()).toBe('Alice Analyst');
    expect(h.store.expiresAt()?.toISOString()).toBe('2031-01-02T03:04:05.000Z');
    expect(h.store.session()).toEqual(info);
  });

  it('hasRole is true when the user holds any one of the roles asked for', async () => {
    const h = await setUp({ initial: alice() });
    expect(h.store.hasRole('analyst')).toBe(true);
    expect(h.store.hasRole('admin', 'staff')).toBe(true);
    expect(h.store.hasRole('admin')).toBe(false);
  });

  it('a signed-out answer leaves no user, no roles and no deadline', async () => {
    const h = await setUp({ initial: { authenticated: false } });
    expect(h.store.loaded()).toBe(true);
    expect(h.store.authenticated()).toBe(false);
    expect(h.store.user()).toBeUndefined();
    expect(h.store.roles()).toEqual([]);
    expect(h.store.hasRole('analyst')).toBe(false);
    expect(h.store.expiresAt()).toBeUndefined();
  });

  it('an answer that is not a signed-in session with a user counts as signed out', async () => {
    const h = await setUp({ initial: null });
    await answerSession(h, { authenticated: true } as never);
    expect(h.store.authenticated()).toBe(false);
  });

  it('concurrent refreshes share one request', async () => {
    const h = await setUp({ initial: { authenticated: false } });
    const answers = [h.store.refresh(), h.store.refresh(), h.store.extend()];
    await answerSession(h, alice()); // fails if more than one request is pending
    const infos = await Promise.all(answers);
    expect(infos.every((info) => info.authenticated)).toBe(true);
    h.http.verify();
  });

  it('when the BFF cannot be reached, the last answer stands', async () => {
    const h = await setUp({ initial: alice() });
    const answer = h.store.refresh();
    h.http.expectOne('/api/session').flush('bad gateway', { status: 502, statusText: 'Bad Gateway' });
    expect((await answer).authenticated).toBe(true);
    expect(h.store.authenticated()).toBe(true);
  });

  it('when the BFF cannot be reached at startup, the app shows signed out', async () => {
    const h = await setUp({ initial: null });
    h.http.expectOne('/api/session').error(new ProgressEvent('error'));
    await settle();
    expect(h.store.loaded()).toBe(true);
    expect(h.store.authenticated()).toBe(false);
  });

  it('login() goes to the sign-in endpoint, to come back to the current page', async () => {
    const h = await setUp({ initial: { authenticated: false } });
    await navigate(h, '/reports/7?tab=2#top', { authenticated: false });
    h.store.login();
    expect(h.page.assigned).toEqual(['/api/login?returnTo=%2Freports%2F7%3Ftab%3D2%23top']);
  });

  it('login(returnTo) and loginUrl() use the given page and the configured path', async () => {
    const h = await setUp({ initial: { authenticated: false }, config: { loginPath: '/bff/login' } });
    expect(h.store.loginUrl('/chat')).toBe('/bff/login?returnTo=%2Fchat');
    h.store.login('/analytics');
    expect(h.page.assigned).toEqual(['/bff/login?returnTo=%2Fanalytics']);
  });

  it('logout() posts with the CSRF header from the cookie, then goes to the logoutUrl', async () => {
    document.cookie = 'XSRF-TOKEN=token-from-cookie; Path=/';
    const h = await setUp({ initial: alice() });
    const done = h.store.logout();
    const post = h.http.expectOne('/api/logout');
    expect(post.request.method).toBe('POST');
    expect(post.request.headers.get('X-XSRF-TOKEN')).toBe('token-from-cookie');
    expect(post.request.withCredentials).toBe(true);
    post.flush({ logoutUrl: 'http://127.0.0.1:9090/session/end?id_token_hint=x' });
    await done;
    expect(h.store.authenticated()).toBe(false);
    expect(h.page.assigned).toEqual(['http://127.0.0.1:9090/session/end?id_token_hint=x']);
  });

  it('logout() when the session had already ended: signed out, no trip to the SSO', async () => {
    const h = await setUp({ initial: alice() });
    const done = h.store.logout();
    h.http.expectOne('/api/logout').flush({ type: 'urn:oidc-bff:problem:csrf' }, { status: 403, statusText: 'Forbidden' });
    await answerSession(h, { authenticated: false });
    await done;
    expect(h.store.authenticated()).toBe(false);
    expect(h.page.assigned).toEqual([]);
  });

  it('logout() that fails while the session is alive rejects and keeps the session', async () => {
    const h = await setUp({ initial: alice() });
    const done = h.store.logout();
    h.http.expectOne('/api/logout').flush('unavailable', { status: 503, statusText: 'Service Unavailable' });
    await answerSession(h, alice());
    await expect(done).rejects.toMatchObject({ status: 503 });
    expect(h.store.authenticated()).toBe(true);
    expect(h.page.assigned).toEqual([]);
  });

  it('handleUnauthorized() with the session gone: one session request and one sign-in for many callers', async () => {
    const h = await setUp({ initial: alice(), routes: [{ path: '**', component: Blank }] });
    const results = [h.store.handleUnauthorized('/a'), h.store.handleUnauthorized('/b'), h.store.handleUnauthorized('/c')];
    await answerSession(h, { authenticated: false });
    expect(await Promise.all(results)).toEqual([true, true, true]);
    expect(h.page.assigned).toEqual(['/api/login?returnTo=%2Fa']);
    // the page is leaving: a late 401 neither asks again nor navigates again
    expect(await h.store.handleUnauthorized('/d')).toBe(true);
    h.http.verify();
    expect(h.page.assigned.length).toBe(1);
  });

  it('handleUnauthorized() with the session alive: the API behind the BFF refused, no sign-in', async () => {
    const h = await setUp({ initial: alice() });
    const result = h.store.handleUnauthorized('/a');
    await answerSession(h, alice());
    expect(await result).toBe(false);
    expect(h.page.assigned).toEqual([]);
  });

  it('is one instance per app', async () => {
    const h = await setUp({ initial: { authenticated: false } });
    expect(TestBed.inject(SessionStore)).toBe(h.store);
  });
});
