import {
  HttpFeature,
  HttpFeatureKind,
  provideHttpClient,
  withInterceptors,
  withXsrfConfiguration,
} from '@angular/common/http';
import { EnvironmentProviders, inject, makeEnvironmentProviders, provideAppInitializer } from '@angular/core';
import { bffInterceptor } from './bff-interceptor';
import { OIDC_BFF_CONFIG, OidcBffConfig, resolveOidcBffConfig } from './config';
import { SessionStore } from './session-store';

/**
 * Everything an app needs to talk to oidc-bff, in one call (instead of `provideHttpClient`):
 *
 * - `HttpClient` with Angular's XSRF convention set to the BFF's names (cookie `XSRF-TOKEN`,
 *   header `X-XSRF-TOKEN`): unsafe same-origin requests echo the cookie, no CSRF code in the app;
 * - the BFF interceptor: calls under `apiPrefix` go with credentials, and a 401 leads to one
 *   session check and then sign-in, back to the current page;
 * - the `SessionStore` asks the BFF at startup and on each navigation, and listens to the other tabs.
 *
 * More `HttpClient` features (`withFetch()`, your own `withInterceptors([...])`) go after the config.
 */
export function provideOidcBff(
  config: OidcBffConfig = {},
  ...httpFeatures: HttpFeature<HttpFeatureKind>[]
): EnvironmentProviders {
  const resolved = resolveOidcBffConfig(config);
  return makeEnvironmentProviders([
    { provide: OIDC_BFF_CONFIG, useValue: resolved },
    provideHttpClient(
      withInterceptors([bffInterceptor]),
      withXsrfConfiguration({ cookieName: resolved.xsrfCookieName, headerName: resolved.xsrfHeaderName }),
      ...httpFeatures,
    ),
    provideAppInitializer(() => inject(SessionStore).start()),
  ]);
}
