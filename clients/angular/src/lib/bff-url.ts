import { ResolvedOidcBffConfig } from './config';

/**
 * The path of `url` when it is a call to the BFF (on the page's own origin, under `apiPrefix`);
 * `null` for anything else (another origin, the app's own files).
 */
export function bffPath(url: string, config: ResolvedOidcBffConfig, page: Location): string | null {
  let target: URL;
  try {
    target = new URL(url, page.href);
  } catch {
    return null;
  }
  if (target.origin !== page.origin) return null;
  return target.pathname.startsWith(config.apiPrefix) ? target.pathname : null;
}

/** A 401 from these is about the request, not the session (`/api/session` never answers 401; logout handles its own). */
export function handlesOwnUnauthorized(path: string, config: ResolvedOidcBffConfig): boolean {
  return path === config.sessionPath || path === config.logoutPath;
}
