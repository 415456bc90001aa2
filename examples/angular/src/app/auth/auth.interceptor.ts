import { HttpErrorResponse, HttpInterceptorFn } from '@angular/common/http';
import { inject } from '@angular/core';
import { Router } from '@angular/router';
import { catchError, from, switchMap, throwError } from 'rxjs';
import { SessionService } from './session.service';

/**
 * A 401 from an `/api/` call means the session is gone (expired, signed out elsewhere, key
 * rotated): sign in again and come back to the current page.
 *
 * `/api/session` is left out: it never answers 401 (it says `authenticated: false`), and the
 * check below goes through it. The check: an upstream behind the BFF may answer 401 itself while
 * the BFF session is fine; signing in again would then loop (SSO signs in silently, the upstream
 * says 401 again, ...), so the browser only leaves when the BFF confirms there is no session.
 */
export const authInterceptor: HttpInterceptorFn = (req, next) => {
  const router = inject(Router);
  const session = inject(SessionService);
  return next(req).pipe(
    catchError((error: unknown) => {
      const path = new URL(req.url, window.location.origin).pathname;
      if (error instanceof HttpErrorResponse && error.status === 401 && path.startsWith('/api/') && path !== '/api/session') {
        return from(session.signInIfSignedOut(router.url)).pipe(switchMap(() => throwError(() => error)));
      }
      return throwError(() => error);
    }),
  );
};
