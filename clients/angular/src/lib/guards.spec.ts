import { Routes } from '@angular/router';
import { alice, Blank, navigate, setUp } from '../testing/harness';
import { authGuard, roleGuard } from './guards';
import { SessionInfo } from './session-info';

const routes: Routes = [
  { path: '', component: Blank },
  { path: 'no-entry', component: Blank },
  { path: 'chat', component: Blank, canActivate: [authGuard] },
  { path: 'analytics', component: Blank, canActivate: [roleGuard('analyst')] },
  { path: 'ops', component: Blank, canActivate: [roleGuard('admin', 'staff')] },
];

const bob: SessionInfo = { authenticated: true, user: { sub: 'bob-sub', name: 'Bob Builder', roles: ['user'] } };
const signedOut: SessionInfo = { authenticated: false };

describe('authGuard', () => {
  it('lets a signed-in user through', async () => {
    const h = await setUp({ routes, initial: alice() });
    expect(await navigate(h, '/chat', alice())).toBe(true);
    expect(h.router.url).toBe('/chat');
    expect(h.page.assigned).toEqual([]);
  });

  it('sends a signed-out visitor to sign in, to come back to the page asked for', async () => {
    const h = await setUp({ routes, initial: signedOut });
    expect(await navigate(h, '/chat?topic=x', signedOut)).toBe(false);
    expect(h.router.url).toBe('/');
    expect(h.page.assigned).toEqual(['/api/login?returnTo=%2Fchat%3Ftopic%3Dx']);
  });

  it('asks the BFF on each navigation (the session may have ended since)', async () => {
    const h = await setUp({ routes, initial: alice() });
    expect(await navigate(h, '/chat', alice())).toBe(true);
    expect(await navigate(h, '/', signedOut)).toBe(true);
    expect(await navigate(h, '/chat', signedOut)).toBe(false);
    expect(h.page.assigned).toEqual(['/api/login?returnTo=%2Fchat']);
  });
});

describe('roleGuard', () => {
  it('lets a user with the role through', async () => {
    const h = await setUp({ routes, initial: alice() });
    expect(await navigate(h, '/analytics', alice())).toBe(true);
    expect(h.router.url).toBe('/analytics');
  });

  it('sends a signed-in user without the role to the configured forbidden route', async () => {
    const h = await setUp({ routes, initial: bob, config: { forbiddenRoute: '/no-entry' } });
    await navigate(h, '/analytics', bob);
    expect(h.router.url).toBe('/no-entry');
    expect(h.page.assigned).toEqual([]);
  });

  it('without a configured forbidden route, goes to /', async () => {
    const h = await setUp({ routes, initial: bob });
    await navigate(h, '/no-entry', bob);
    await navigate(h, '/analytics', bob);
    expect(h.router.url).toBe('/');
  });

  it('sends a signed-out visitor to sign in first', async () => {
    const h = await setUp({ routes, initial: signedOut });
    expect(await navigate(h, '/analytics', signedOut)).toBe(false);
    expect(h.page.assigned).toEqual(['/api/login?returnTo=%2Fanalytics']);
  });

  it('accepts any one of several roles', async () => {
    const staff: SessionInfo = { authenticated: true, user: { sub: 's', roles: ['staff'] } };
    const h = await setUp({ routes, initial: staff, config: { forbiddenRoute: '/no-entry' } });
    expect(await navigate(h, '/ops', staff)).toBe(true);
    expect(h.router.url).toBe('/ops');
    await navigate(h, '/', bob);
    await navigate(h, '/ops', bob);
    expect(h.router.url).toBe('/no-entry');
  });
});
