import { Routes } from '@angular/router';
import { alice, answerSession, Blank, Harness, navigate, nextMessage, setUp, settle, until } from '../testing/harness';
import { authGuard, roleGuard } from './guards';

const routes: Routes = [
  { path: '', component: Blank },
  { path: 'about', component: Blank },
  { path: 'chat', component: Blank, canActivate: [authGuard] },
  { path: 'admin', canActivateChild: [roleGuard('admin')], children: [{ path: 'users', component: Blank }] },
];

/** The store, signed in as alice on `url`, and a channel standing for another tab of the app. */
async function signedInOn(url: string, config = {}): Promise<{ h: Harness; otherTab: BroadcastChannel }> {
  const h = await setUp({ routes, initial: alice(), config });
  expect(await navigate(h, url, alice())).toBe(true);
  const otherTab = new BroadcastChannel(h.channel);
  onTestFinished(() => otherTab.close());
  return { h, otherTab };
}

/**
 * Messages from one channel reach the store in the order they were posted: after the earlier
 * ones, this probe (another user signing in) makes the store ask the BFF. Once that request is
 * seen, everything posted before has been handled. The probe's request is then answered with
 * the store's current session, which changes nothing.
 */
async function afterDelivery(h: Harness, otherTab: BroadcastChannel): Promise<void> {
  const before = h.store.session()!;
  otherTab.postMessage({ type: 'session', sub: 'probe-sub', expiresAt: null });
  let pending: ReturnType<Harness['http']['match']> = [];
  await until(() => (pending = h.http.match('/api/session')).length > 0, 'the probe\'s session request');
  expect(h.store.session(), 'the state before the probe is answered').toEqual(before);
  pending[0].flush(before);
  await settle();
}

describe('cross-tab awareness', () => {
  it('a sign-out in another tab signs this tab out within a second and leaves the guarded page', async () => {
    const { h, otherTab } = await signedInOn('/chat');
    expect(h.router.url).toBe('/chat');

    const sent = performance.now();
    otherTab.postMessage({ type: 'signed-out' });
    await until(() => !h.store.authenticated() && h.router.url === '/', 'signed out and on /', 1000);
    expect(performance.now() - sent).toBeLessThan(1000);
    expect(h.store.user()).toBeUndefined();
    expect(h.page.assigned).toEqual([]); // no trip to the SSO from the other tabs
    // the message alone did it: the navigation's own session request is still unanswered
    await answerSession(h, { authenticated: false });
    expect(h.router.url).toBe('/');
  });

  it('a guard in canActivateChild counts as a guarded page too, and signedOutRoute is where it goes', async () => {
    const { h, otherTab } = await signedInOn('/about', { signedOutRoute: '/about' });
    expect(await navigate(h, '/admin/users', alice({ user: { sub: 'alice-sub', roles: ['admin'] } }))).toBe(true);

    otherTab.postMessage({ type: 'signed-out' });
    await until(() => h.router.url === '/about', 'on /about');
    expect(h.store.authenticated()).toBe(false);
  });

  it('on a public page a sign-out elsewhere changes the state and not the page', async () => {
    const { h, otherTab } = await signedInOn('/about');
    otherTab.postMessage({ type: 'signed-out' });
    await until(() => !h.store.authenticated(), 'signed out');
    await settle();
    expect(h.router.url).toBe('/about');
  });

  it('a sign-in in another tab is noticed: this tab asks the BFF and shows the user', async () => {
    const h = await setUp({ routes, initial: { authenticated: false } });
    const otherTab = new BroadcastChannel(h.channel);
    onTestFinished(() => otherTab.close());

    otherTab.postMessage({ type: 'session', sub: 'alice-sub', expiresAt: alice().expiresAt });
    await answerSession(h, alice());
    expect(h.store.authenticated()).toBe(true);
    expect(h.store.displayName()).toBe('Alice Analyst');
  });

  it('another user signing in elsewhere replaces this tab\'s user', async () => {
    const { h, otherTab } = await signedInOn('/about');
    otherTab.postMessage({ type: 'session', sub: 'bob-sub', expiresAt: null });
    await answerSession(h, { authenticated: true, user: { sub: 'bob-sub', name: 'Bob', roles: [] } });
    expect(h.store.displayName()).toBe('Bob');
  });

  it('the same session used in another tab moves this tab\'s deadline later, without a request', async () => {
    const { h, otherTab } = await signedInOn('/about');
    const later = new Date(h.store.expiresAt()!.getTime() + 600_000).toISOString();
    otherTab.postMessage({ type: 'session', sub: 'alice-sub', expiresAt: later });
    await until(() => h.store.expiresAt()?.toISOString() === later, 'the later deadline');

    const earlier = new Date(Date.now() + 1_000).toISOString();
    otherTab.postMessage({ type: 'session', sub: 'alice-sub', expiresAt: earlier });
    await afterDelivery(h, otherTab);
    expect(h.store.expiresAt()?.toISOString()).toBe(later);
  });

  it('tells the other tabs when the BFF reports a signed-in session, and when it reports none', async () => {
    const { h, otherTab } = await signedInOn('/about');
    let heard = nextMessage(otherTab);
    void h.store.refresh();
    const info = alice();
    await answerSession(h, info);
    expect(await heard).toEqual({ type: 'session', sub: 'alice-sub', expiresAt: info.expiresAt });

    heard = nextMessage(otherTab);
    void h.store.refresh();
    await answerSession(h, { authenticated: false });
    expect(await heard).toEqual({ type: 'signed-out' });
  });

  it('tells the other tabs at sign-out, before leaving for the SSO', async () => {
    const { h, otherTab } = await signedInOn('/about');
    const heard = nextMessage(otherTab);
    const done = h.store.logout();
    h.http.expectOne('/api/logout').flush({ logoutUrl: '/' });
    await done;
    expect(await heard).toEqual({ type: 'signed-out' });
  });

  it('ignores messages that are not its own', async () => {
    const { h, otherTab } = await signedInOn('/chat');
    for (const junk of ['signed-out', { type: 'bye' }, { type: 'session', sub: 7 }, null]) otherTab.postMessage(junk);
    await afterDelivery(h, otherTab);
    expect(h.store.authenticated()).toBe(true);
    expect(h.router.url).toBe('/chat');
  });

  it('with crossTabChannel: false nothing is sent or heard', async () => {
    const h = await setUp({ routes, initial: alice(), config: { crossTabChannel: false } });
    const listener = new BroadcastChannel('oidc-bff');
    onTestFinished(() => listener.close());
    const heard: unknown[] = [];
    listener.onmessage = (event) => heard.push(event.data);
    void h.store.refresh();
    await answerSession(h, { authenticated: false }); // a change the store would tell, if it could
    listener.postMessage({ type: 'session', sub: 'x', expiresAt: null }); // a sign-in it would notice
    // messages arrive in the order they were posted: once this probe is heard, an earlier message from the store would have been too
    const probe = new BroadcastChannel('oidc-bff');
    onTestFinished(() => probe.close());
    probe.postMessage('probe');
    await until(() => heard.length > 0, 'the probe');
    expect(heard).toEqual(['probe']);
    h.http.verify(); // and the store asked nothing
  });
});
