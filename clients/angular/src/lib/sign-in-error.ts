import { computed, inject, Injectable } from '@angular/core';
import { toSignal } from '@angular/core/rxjs-interop';
import { NavigationEnd, Router } from '@angular/router';
import { filter, map } from 'rxjs';

/** The query parameter the BFF puts a failed sign-in's code in: `/?authError=<code>`. */
export const SIGN_IN_ERROR_PARAM = 'authError';

/** The codes of a failed sign-in (the BFF's README and `GET /api/callback`), as readable messages. */
const MESSAGES: Readonly<Record<string, string>> = {
  access_denied: 'Sign-in was cancelled or access was denied at the sign-in service.',
  sso_error: 'The sign-in service reported an error. Please try again.',
  invalid_state: 'That sign-in link was already used, has expired or did not start here. Please sign in again.',
  login_expired: 'The sign-in took too long and expired. Please sign in again.',
  invalid_issuer: 'The answer did not come from the expected sign-in service.',
  invalid_request: 'The sign-in request was invalid. Please start again.',
  code_rejected: 'The sign-in service rejected the sign-in code (was it used twice?). Please sign in again.',
  invalid_id_token: 'The identity returned by the sign-in service could not be verified.',
  sso_unavailable: 'The sign-in service is unavailable right now. Please try again in a moment.',
  session_too_large: 'Your account data is too large for a browser session. Please contact support.',
};

/** A readable message for a sign-in error code; a generic one for a code it does not know. */
export function signInErrorMessage(code: string): string {
  return Object.hasOwn(MESSAGES, code) ? MESSAGES[code] : 'Sign-in failed. Please try again.';
}

/** The failed sign-in the current URL reports (`?authError=<code>`), and a way to dismiss it. */
@Injectable({ providedIn: 'root' })
export class SignInError {
  private readonly router = inject(Router);

  /** The code, or `null` when the URL carries none. */
  readonly code = toSignal(
    this.router.events.pipe(
      filter((event) => event instanceof NavigationEnd),
      map(() => this.router.parseUrl(this.router.url).queryParamMap.get(SIGN_IN_ERROR_PARAM)),
    ),
    { initialValue: this.router.parseUrl(this.router.url).queryParamMap.get(SIGN_IN_ERROR_PARAM) },
  );
  /** The message to show, or `''`. */
  readonly message = computed(() => {
    const code = this.code();
    return code ? signInErrorMessage(code) : '';
  });

  /** Removes the code from the URL (without a history entry). */
  dismiss(): Promise<boolean> {
    return this.router.navigate([], {
      queryParams: { [SIGN_IN_ERROR_PARAM]: null },
      queryParamsHandling: 'merge',
      replaceUrl: true,
    });
  }
}
