/*
 * @oidc-bff/angular: the Angular side of oidc-bff.
 */
export { provideOidcBff } from './lib/provide-oidc-bff';
export { OIDC_BFF_CONFIG, OIDC_BFF_DEFAULTS, resolveOidcBffConfig } from './lib/config';
export type { OidcBffConfig, ResolvedOidcBffConfig } from './lib/config';
export { SessionStore } from './lib/session-store';
export type { ExpiryWarning } from './lib/expiry-watch';
export type { LogoutResult, SessionInfo, SessionUser } from './lib/session-info';
export { authGuard, roleGuard } from './lib/guards';
export type { SessionGuard } from './lib/guards';
export { bffInterceptor } from './lib/bff-interceptor';
export { BFF_FETCH_IMPLEMENTATION, BffFetch, BffHttpError } from './lib/bff-fetch';
export { parseEventStream } from './lib/event-stream';
export type { ServerSentEvent } from './lib/event-stream';
export { SessionChannel } from './lib/session-channel';
export type { SessionMessage } from './lib/session-channel';
export { SignInError, signInErrorMessage, SIGN_IN_ERROR_PARAM } from './lib/sign-in-error';
export { PageLocation } from './lib/page-location';
export { loginUrl } from './lib/login-url';
