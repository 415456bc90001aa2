import { inject } from '@angular/core';
import { CanActivateChildFn, CanActivateFn, Router } from '@angular/router';
import { OIDC_BFF_CONFIG } from './config';
import { markSessionGuard } from './guarded-routes';
import { SessionStore } from './session-store';

/** A guard for `canActivate` or `canActivateChild`. */
export type SessionGuard = CanActivateFn & CanActivateChildFn;

/**
 * Lets a navigation through when someone is signed in (asking the BFF, one request however many
 * guards ask at once); otherwise sends the browser to sign in and come back to the target URL.
 */
export const authGuard: SessionGuard = markSessionGuard<SessionGuard>(async (_route, state) => {
  const store = inject(SessionStore);
  const info = await store.refresh();
  if (info.authenticated) return true;
  store.login(state.url);
  return false;
});

/**
 * `authGuard`, and the user must hold at least one of `roles`: a signed-in user without any goes
 * to the configured `forbiddenRoute`. This only decides what the UI shows: the BFF (route
 * `roles`) and the API behind it still enforce access.
 */
export function roleGuard(role: string, ...moreRoles: string[]): SessionGuard {
  const roles = [role, ...moreRoles];
  return markSessionGuard<SessionGuard>(async (_route, state) => {
    // everything injected before the first await: the injection context ends there
    const store = inject(SessionStore);
    const router = inject(Router);
    const { forbiddenRoute } = inject(OIDC_BFF_CONFIG);
    const info = await store.refresh();
    if (!info.authenticated) {
      store.login(state.url);
      return false;
    }
    return store.hasRole(...roles) ? true : router.parseUrl(forbiddenRoute);
  });
}
