/**
 * What the BFF answers, as its OpenAPI document (`openapi/oidc-bff.json`) describes it: the
 * library reads only these fields. Times are RFC 3339 strings.
 */

/** The signed-in user (`SessionInfo.user`). */
export interface SessionUser {
  /** Subject identifier at the SSO. */
  sub: string;
  /** Display name, if the SSO gave one. */
  name?: string;
  /** E-mail, if the SSO gave one. */
  email?: string;
  /** Roles from the BFF's configured claim paths. */
  roles: string[];
}

/** `GET /api/session`: always 200, `{"authenticated": false}` when nobody is signed in. */
export interface SessionInfo {
  authenticated: boolean;
  user?: SessionUser;
  /** The ID token's claims, minus protocol-only ones. */
  claims?: Record<string, unknown>;
  /** When the session ends unless used: the earlier of the absolute cap and the idle deadline. */
  expiresAt?: string;
  /** When the current access token expires (the BFF refreshes it before then). */
  accessTokenExpiresAt?: string;
  /** `GET` this to sign out by navigation (carries the session id). */
  logoutUrl?: string;
  /** The CSRF token, the same value as the `XSRF-TOKEN` cookie. */
  csrfToken?: string;
}

/** `POST /api/logout`: where to send the browser so the SSO session ends too. */
export interface LogoutResult {
  logoutUrl: string;
}

export const SIGNED_OUT: SessionInfo = Object.freeze({ authenticated: false });
