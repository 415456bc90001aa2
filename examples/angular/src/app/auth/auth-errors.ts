/**
 * The codes the BFF puts in `/?authError=<code>` when a sign-in fails, as readable messages.
 * (The list is in the BFF's README and in the description of `GET /api/callback`.)
 */
const MESSAGES: Record<string, string> = {
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

export function authErrorMessage(code: string): string {
  return Object.hasOwn(MESSAGES, code) ? MESSAGES[code] : 'Sign-in failed. Please try again.';
}
