import { HttpErrorResponse, HttpInterceptorFn } from '@angular/common/http';
import { DOCUMENT, inject } from '@angular/core';
import { Router } from '@angular/router';
import { catchError, from, switchMap, throwError } from 'rxjs';
import { bffPath, handlesOwnUnauthorized } from './bff-url';
import { OIDC_BFF_CONFIG } from './config';
import { SessionStore } from './session-store';

/**
 * For calls to the BFF (same origin, under `apiPrefix`): sends them with credentials, and on a
 * 401 asks the session endpoint (once, however many 401s arrive together): nobody signed in →
 * the browser goes to sign in and comes back to the current page. The error still reaches the
 * caller. Other requests pass untouched. (The CSRF header is Angular's own XSRF interceptor,
 * configured by `provideOidcBff`.)
 */
export const bffInterceptor: HttpInterceptorFn = (req, next) => {
  const config = inject(OIDC_BFF_CONFIG);
  const path = bffPath(req.url, config, inject(DOCUMENT).location);
  if (path === null) return next(req);
  const store = inject(SessionStore);
  const router = inject(Router);
  return next(req.withCredentials ? req : req.clone({ withCredentials: true })).pipe(
    catchError((error: unknown) => {
      if (error instanceof HttpErrorResponse && error.status === 401 && !handlesOwnUnauthorized(path, config)) {
        return from(store.handleUnauthorized(router.url)).pipe(switchMap(() => throwError(() => error)));
      }
      return throwError(() => error);
    }),
  );
};
