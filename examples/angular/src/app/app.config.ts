import { ApplicationConfig, provideBrowserGlobalErrorListeners, provideZonelessChangeDetection } from '@angular/core';
import { provideRouter } from '@angular/router';
import { provideOidcBff } from '@oidc-bff/angular';

import { routes } from './app.routes';

export const appConfig: ApplicationConfig = {
  providers: [
    provideBrowserGlobalErrorListeners(),
    provideZonelessChangeDetection(),
    provideRouter(routes),
    // HttpClient (CSRF header, credentials, 401 → sign-in), the session store, cross-tab sign-out.
    // The BFF's paths are the library's defaults; only what this app decides is configured here.
    provideOidcBff({
      forbiddenRoute: '/forbidden', // where roleGuard sends a user without the role
      expiryWarningSeconds: 120, // warn two minutes before the session ends
    }),
  ],
};
