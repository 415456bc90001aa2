import {
  ApplicationConfig,
  inject,
  provideAppInitializer,
  provideBrowserGlobalErrorListeners,
  provideZonelessChangeDetection,
} from '@angular/core';
import { provideHttpClient, withInterceptors, withXsrfConfiguration } from '@angular/common/http';
import { NavigationStart, provideRouter, Router } from '@angular/router';
import { filter } from 'rxjs';

import { routes } from './app.routes';
import { authInterceptor } from './auth/auth.interceptor';
import { SessionService } from './auth/session.service';

export const appConfig: ApplicationConfig = {
  providers: [
    provideBrowserGlobalErrorListeners(),
    provideZonelessChangeDetection(),
    provideRouter(routes),
    // The BFF sets a script-readable XSRF-TOKEN cookie and wants it back as X-XSRF-TOKEN on
    // POST/PUT/PATCH/DELETE. HttpClient does exactly that for same-origin requests: no custom
    // CSRF code. (These are Angular's defaults, spelled out so nobody has to look them up.)
    provideHttpClient(
      withInterceptors([authInterceptor]),
      withXsrfConfiguration({ cookieName: 'XSRF-TOKEN', headerName: 'X-XSRF-TOKEN' }),
    ),
    // Ask the BFF who is signed in at start and on every navigation (the guard shares the
    // request that is already in flight).
    provideAppInitializer(() => {
      const session = inject(SessionService);
      inject(Router)
        .events.pipe(filter((event) => event instanceof NavigationStart))
        .subscribe(() => void session.refresh());
    }),
  ],
};
