/**
 * `<loginPath>?returnTo=<returnTo>`. The BFF accepts only a local path of the app as `returnTo`
 * (one leading `/`, no scheme, no backslash, not an API route); anything else becomes `/` here
 * rather than a 400 there.
 */
export function loginUrl(loginPath: string, returnTo: string): string {
  return `${loginPath}?returnTo=${encodeURIComponent(isLocalPath(returnTo) ? returnTo : '/')}`;
}

/** A path on this origin: starts with one `/`, no `//` or `\` (which browsers read as another host). */
export function isLocalPath(url: string): boolean {
  return url.startsWith('/') && !url.startsWith('//') && !url.includes('\\');
}
