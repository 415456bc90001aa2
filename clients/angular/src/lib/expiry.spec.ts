import { Routes } from '@angular/router';
import { alice, answerSession, Blank, navigate, setUp } from '../testing/harness';
import { END_GRACE_MS } from './expiry-watch';
import { authGuard } from './guards';

const START = new Date('2031-05-01T10:00:00Z').getTime();
const at = (msFromStart: number) => new Date(START + msFromStart).toISOString();
const routes: Routes = [
  { path: '', component: Blank },
  { path: 'chat', component: Blank, canActivate: [authGuard] },
];

describe('expiry warning and the end of the session', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: START, toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('warns expiryWarningSeconds before expiresAt, then counts down every second', async () => {
    const h = await setUp({ config: { expiryWarningSeconds: 60 }, initial: alice({ expiresAt: at(300_000) }) });
    expect(h.store.expiryWarning()).toBeNull();
    await vi.advanceTimersByTimeAsync(239_000);
    expect(h.store.expiryWarning()).toBeNull();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(h.store.expiryWarning()).toEqual({ expiresAt: new Date(at(300_000)), secondsLeft: 60 });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(h.store.expiryWarning()?.secondsLeft).toBe(50);
  });

  it('extend() asks the BFF: a later expiresAt clears the warning, which comes back before the new end', async () => {
    const h = await setUp({ config: { expiryWarningSeconds: 60 }, initial: alice({ expiresAt: at(300_000) }) });
    await vi.advanceTimersByTimeAsync(250_000);
    expect(h.store.expiryWarning()).not.toBeNull();

    const extended = h.store.extend();
    await answerSession(h, alice({ expiresAt: at(550_000) })); // the BFF slid the idle deadline
    expect((await extended).expiresAt).toBe(at(550_000));
    expect(h.store.expiryWarning()).toBeNull();
    expect(h.store.expiresAt()?.toISOString()).toBe(at(550_000));

    await vi.advanceTimersByTimeAsync(239_000); // now 489 s: 61 s left
    expect(h.store.expiryWarning()).toBeNull();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(h.store.expiryWarning()?.secondsLeft).toBe(60);
  });

  it('an extension that cannot move the deadline (the absolute lifetime) keeps the warning', async () => {
    const h = await setUp({ config: { expiryWarningSeconds: 60 }, initial: alice({ expiresAt: at(300_000) }) });
    await vi.advanceTimersByTimeAsync(250_000);
    const extended = h.store.extend();
    await answerSession(h, alice({ expiresAt: at(300_000) }));
    await extended;
    expect(h.store.expiryWarning()?.secondsLeft).toBe(50);
  });

  it('at expiresAt the BFF is asked once; "signed out" ends the session here, tells the other tabs and leaves the guarded page', async () => {
    const h = await setUp({ routes, config: { expiryWarningSeconds: 60 }, initial: alice({ expiresAt: at(300_000) }) });
    await navigate(h, '/chat', alice({ expiresAt: at(300_000) }));
    const otherTab = new BroadcastChannel(h.channel);
    onTestFinished(() => otherTab.close());
    const heard: unknown[] = [];
    otherTab.onmessage = (event) => heard.push(event.data);

    const untilEndTimer = START + 300_000 + END_GRACE_MS - Date.now();
    await vi.advanceTimersByTimeAsync(untilEndTimer - 1);
    h.http.expectNone('/api/session');
    await vi.advanceTimersByTimeAsync(1);
    await answerSession(h, { authenticated: false }); // exactly one request
    expect(h.store.authenticated()).toBe(false);
    expect(h.store.expiryWarning()).toBeNull();
    await vi.waitFor(() => expect(h.router.url).toBe('/'));
    await vi.waitFor(() => expect(heard).toContainEqual({ type: 'signed-out' }));
  });

  it('a session still alive at its deadline (extended by a tab this one did not hear) goes on', async () => {
    const h = await setUp({ config: { expiryWarningSeconds: 60 }, initial: alice({ expiresAt: at(300_000) }) });
    await vi.advanceTimersByTimeAsync(300_000 + END_GRACE_MS);
    await answerSession(h, alice({ expiresAt: at(3_900_000) }));
    expect(h.store.authenticated()).toBe(true);
    expect(h.store.expiryWarning()).toBeNull();
    expect(h.store.expiresAt()?.toISOString()).toBe(at(3_900_000));
  });

  it('a BFF still reporting the same deadline at its end is asked again a moment later', async () => {
    const h = await setUp({ initial: alice({ expiresAt: at(60_000) }) });
    await vi.advanceTimersByTimeAsync(60_000 + END_GRACE_MS);
    await answerSession(h, alice({ expiresAt: at(60_000) })); // its clock is a second behind
    await vi.advanceTimersByTimeAsync(END_GRACE_MS);
    await answerSession(h, { authenticated: false });
    expect(h.store.authenticated()).toBe(false);
  });

  it('times come from the BFF\'s clock: a browser five minutes behind still warns on time', async () => {
    const serverNow = START + 300_000;
    const h = await setUp({ config: { expiryWarningSeconds: 60 }, initial: null });
    await answerSession(h, alice({ expiresAt: new Date(serverNow + 300_000).toISOString() }), {
      Date: new Date(serverNow).toUTCString(),
    });
    await vi.advanceTimersByTimeAsync(239_000);
    expect(h.store.expiryWarning()).toBeNull();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(h.store.expiryWarning()?.secondsLeft).toBe(60);
  });

  it('without expiryWarningSeconds there is no warning, and the end is still noticed', async () => {
    const h = await setUp({ initial: alice({ expiresAt: at(120_000) }) });
    await vi.advanceTimersByTimeAsync(120_000 - 1);
    expect(h.store.expiryWarning()).toBeNull();
    await vi.advanceTimersByTimeAsync(END_GRACE_MS + 1);
    await answerSession(h, { authenticated: false });
    expect(h.store.authenticated()).toBe(false);
  });

  it('a session that ends by sign-out stops the warning and the end timer', async () => {
    const h = await setUp({ config: { expiryWarningSeconds: 60 }, initial: alice({ expiresAt: at(30_000) }) });
    expect(h.store.expiryWarning()?.secondsLeft).toBe(30);
    const done = h.store.logout();
    h.http.expectOne('/api/logout').flush({ logoutUrl: '/' });
    await done;
    expect(h.store.expiryWarning()).toBeNull();
    await vi.advanceTimersByTimeAsync(60_000);
    h.http.expectNone('/api/session');
  });
});
