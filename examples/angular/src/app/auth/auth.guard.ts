import { inject } from '@angular/core';
import { CanActivateFn } from '@angular/router';
import { redirectToLogin } from './login';
import { SessionService } from './session.service';

/**
 * Protects a route: asks the BFF (`GET /api/session`, through the generated client) whether
 * someone is signed in; if not, sends the browser to sign in and come back to the target URL.
 */
export const authGuard: CanActivateFn = async (_route, state) => {
  const session = await inject(SessionService).refresh();
  if (session.authenticated) return true;
  redirectToLogin(state.url);
  return false;
};
