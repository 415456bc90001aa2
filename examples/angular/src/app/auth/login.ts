/**
 * Sends the browser to the BFF's sign-in endpoint. This is a full page navigation, not a router
 * navigation: `/api/login` answers with a redirect to the SSO, and the BFF brings the user back
 * to `returnTo` (a local path such as `/chat?x=1`) once signed in.
 */
export function redirectToLogin(returnTo: string): void {
  window.location.assign(loginUrl(returnTo));
}

/** `/api/login?returnTo=<returnTo>`; `returnTo` must be a local path (the BFF refuses others). */
export function loginUrl(returnTo: string): string {
  const local = returnTo.startsWith('/') && !returnTo.startsWith('//') ? returnTo : '/';
  return '/api/login?returnTo=' + encodeURIComponent(local);
}
