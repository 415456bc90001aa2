import { computed, inject, Injectable, signal } from '@angular/core';
import { Api, getSession, logout, LogoutResult, SessionInfo, User } from '../api';
import { redirectToLogin } from './login';

/** Who is signed in, as the BFF says (`GET /api/session`), held in a signal. */
@Injectable({ providedIn: 'root' })
export class SessionService {
  private readonly api = inject(Api);
  private readonly info = signal<SessionInfo | undefined>(undefined);
  private inFlight: Promise<SessionInfo> | undefined;

  /** The last answer of `/api/session`; `undefined` until the first one arrives. */
  readonly session = this.info.asReadonly();
  readonly loaded = computed(() => this.info() !== undefined);
  readonly authenticated = computed(() => this.info()?.authenticated === true);
  readonly user = computed<User | undefined>(() => (this.authenticated() ? this.info()?.user : undefined));
  readonly displayName = computed(() => {
    const user = this.user();
    return user ? user.name || user.email || user.sub : '';
  });

  /** Asks the BFF again (it also refreshes the tokens when due). Concurrent calls share one request. */
  refresh(): Promise<SessionInfo> {
    this.inFlight ??= this.api
      .invoke(getSession)
      .catch((): SessionInfo => ({ authenticated: false })) // BFF unreachable: treat as signed out
      .then((info) => {
        this.info.set(info);
        return info;
      })
      .finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  /**
   * After a 401 from an API: if the BFF confirms there is no session, sends the browser to sign
   * in and come back to `returnTo` (and returns true). If the session is still there, the 401
   * came from the upstream itself and signing in again would not help (returns false).
   */
  async signInIfSignedOut(returnTo: string): Promise<boolean> {
    const info = await this.refresh();
    if (info.authenticated) return false;
    redirectToLogin(returnTo);
    return true;
  }

  /**
   * Signs out: `POST /api/logout` (HttpClient adds X-XSRF-TOKEN) clears the BFF session, then the
   * browser goes to the SSO's end-session URL so the SSO session ends too.
   */
  async logout(): Promise<void> {
    const result: LogoutResult = await this.api.invoke(logout);
    this.info.set({ authenticated: false });
    window.location.assign(result.logoutUrl);
  }
}
