import { InjectionToken } from '@angular/core';

/**
 * What `provideOidcBff()` accepts. Every field is optional: the defaults are the BFF's own paths
 * (see the BFF's README) and a same-origin deployment (the SPA and the BFF behind one origin).
 */
export interface OidcBffConfig {
  /** The BFF's sign-in endpoint (`GET`, answers a redirect to the SSO). Default `/api/login`. */
  loginPath?: string;
  /** The BFF's session endpoint (`GET`, always 200). Default `/api/session`. */
  sessionPath?: string;
  /** The BFF's sign-out endpoint (`POST` with the CSRF header, answers `{logoutUrl}`). Default `/api/logout`. */
  logoutPath?: string;
  /**
   * Requests to a path under this prefix (on the app's own origin) go to the BFF: they are sent
   * with credentials, and their 401 means "the session may be gone". Default `/api/`.
   */
  apiPrefix?: string;
  /** Where `roleGuard` sends a signed-in user who lacks the role (a router URL). Default `/`. */
  forbiddenRoute?: string;
  /**
   * Where a tab showing a guarded page goes when the session ends without it asking (signed out
   * in another tab, or the session expired). Default `/`.
   */
  signedOutRoute?: string;
  /**
   * Show `SessionStore.expiryWarning()` this many seconds before the session's `expiresAt`.
   * `0` (the default) turns the warning off; the store still notices the end of the session.
   */
  expiryWarningSeconds?: number;
  /**
   * The `BroadcastChannel` the tabs of the app share, or `false` for no cross-tab awareness.
   * Default `oidc-bff`. Use another name when two apps on one origin talk to different BFFs.
   */
  crossTabChannel?: string | false;
  /** Ask the BFF for the session on every router navigation (it also slides the idle deadline). Default `true`. */
  refreshOnNavigation?: boolean;
  /** The BFF's CSRF cookie, readable by scripts. Default `XSRF-TOKEN` (the BFF's name for it). */
  xsrfCookieName?: string;
  /** The header unsafe requests must echo the CSRF cookie in. Default `X-XSRF-TOKEN` (the BFF's name for it). */
  xsrfHeaderName?: string;
}

/** `OidcBffConfig` with every default filled in. */
export type ResolvedOidcBffConfig = Required<OidcBffConfig>;

export const OIDC_BFF_DEFAULTS: ResolvedOidcBffConfig = {
  loginPath: '/api/login',
  sessionPath: '/api/session',
  logoutPath: '/api/logout',
  apiPrefix: '/api/',
  forbiddenRoute: '/',
  signedOutRoute: '/',
  expiryWarningSeconds: 0,
  crossTabChannel: 'oidc-bff',
  refreshOnNavigation: true,
  xsrfCookieName: 'XSRF-TOKEN',
  xsrfHeaderName: 'X-XSRF-TOKEN',
};

/** The resolved configuration; the defaults when `provideOidcBff()` was not called (tests). */
export const OIDC_BFF_CONFIG = new InjectionToken<ResolvedOidcBffConfig>('OIDC_BFF_CONFIG', {
  providedIn: 'root',
  factory: () => OIDC_BFF_DEFAULTS,
});

/**
 * Fills in the defaults and refuses values that cannot work, naming the field, so a typo fails
 * at startup rather than as a sign-in loop.
 */
export function resolveOidcBffConfig(config: OidcBffConfig = {}): ResolvedOidcBffConfig {
  const resolved: ResolvedOidcBffConfig = { ...OIDC_BFF_DEFAULTS };
  for (const [key, value] of Object.entries(config) as [keyof OidcBffConfig, unknown][]) {
    if (value !== undefined) (resolved as Record<string, unknown>)[key] = value;
  }
  for (const key of ['loginPath', 'sessionPath', 'logoutPath', 'apiPrefix', 'forbiddenRoute', 'signedOutRoute'] as const) {
    const value = resolved[key];
    if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//')) {
      throw new Error(`provideOidcBff: \`${key}\` must be a path starting with one "/", got ${JSON.stringify(value)}`);
    }
  }
  const seconds = resolved.expiryWarningSeconds;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) {
    throw new Error(`provideOidcBff: \`expiryWarningSeconds\` must be a number of seconds >= 0, got ${JSON.stringify(seconds)}`);
  }
  const channel = resolved.crossTabChannel;
  if (channel !== false && (typeof channel !== 'string' || channel === '')) {
    throw new Error(`provideOidcBff: \`crossTabChannel\` must be a non-empty name or false, got ${JSON.stringify(channel)}`);
  }
  for (const key of ['xsrfCookieName', 'xsrfHeaderName'] as const) {
    if (typeof resolved[key] !== 'string' || resolved[key] === '') {
      throw new Error(`provideOidcBff: \`${key}\` must be a non-empty name, got ${JSON.stringify(resolved[key])}`);
    }
  }
  return resolved;
}
