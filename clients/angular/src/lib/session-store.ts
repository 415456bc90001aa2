import { Location } from '@angular/common';
import { HttpClient } from '@angular/common/http';
import { computed, DestroyRef, DOCUMENT, inject, Injectable, Signal, signal } from '@angular/core';
import { takeUntilDestroyed } from '@angular/core/rxjs-interop';
import { NavigationStart, Router } from '@angular/router';
import { filter, firstValueFrom } from 'rxjs';
import { OIDC_BFF_CONFIG } from './config';
import { ExpiryWarning, ExpiryWatch } from './expiry-watch';
import { showsGuardedRoute } from './guarded-routes';
import { loginUrl } from './login-url';
import { PageLocation } from './page-location';
import { SessionChannel, SessionMessage } from './session-channel';
import { LogoutResult, SessionInfo, SessionUser, SIGNED_OUT } from './session-info';

/**
 * Who is signed in, as the BFF says (`GET /api/session`), in signals; sign-in, sign-out, and
 * what every tab of the app must agree on.
 *
 * - One request at a time: concurrent `refresh()` calls (guards, navigations, 401s) share one GET.
 * - The BFF is the truth: when it cannot be reached, the last answer stands.
 * - Tabs: a sign-out or an ended session is told to the other tabs, which drop their session at
 *   once and leave guarded pages; a sign-in (or a newer `expiresAt`) is told too, and the others
 *   catch up.
 * - With `expiryWarningSeconds`, `expiryWarning()` is set that long before `expiresAt`; `extend()`
 *   uses the session, which moves the BFF's idle deadline.
 */
@Injectable({ providedIn: 'root' })
export class SessionStore {
  private readonly config = inject(OIDC_BFF_CONFIG);
  private readonly http = inject(HttpClient);
  private readonly router = inject(Router);
  private readonly location = inject(Location);
  private readonly page = inject(PageLocation);
  private readonly channel = inject(SessionChannel);
  private readonly document = inject(DOCUMENT);
  private readonly destroyRef = inject(DestroyRef);

  private readonly info = signal<SessionInfo | undefined>(undefined);
  private inFlight: Promise<SessionInfo> | undefined;
  private unauthorized: Promise<boolean> | undefined;
  private leavingForSignIn = false;
  private started = false;
  /** The BFF's clock minus this browser's, from the `Date` of the last session answer. */
  private serverOffsetMs = 0;
  private watched = '';
  private readonly expiry = new ExpiryWatch(this.config.expiryWarningSeconds * 1000, () => void this.sessionEnded());

  /** The last answer of the session endpoint; `undefined` until the first one arrives. */
  readonly session = this.info.asReadonly();
  /** Whether the BFF has answered at least once (before that, show neither "signed in" nor "sign in"). */
  readonly loaded = computed(() => this.info() !== undefined);
  readonly authenticated = computed(() => this.info()?.authenticated === true);
  readonly user = computed<SessionUser | undefined>(() => (this.authenticated() ? this.info()?.user : undefined));
  readonly roles = computed<readonly string[]>(() => this.user()?.roles ?? []);
  /** When the session ends unless used (the BFF's `expiresAt`). */
  readonly expiresAt = computed<Date | undefined>(() => (this.authenticated() ? parseTime(this.info()?.expiresAt) : undefined));
  /** The user's name, else e-mail, else subject; empty when signed out. */
  readonly displayName = computed(() => {
    const user = this.user();
    return user ? user.name || user.email || user.sub : '';
  });
  /** Set from `expiryWarningSeconds` before `expiresAt` until the session is extended or ends. */
  readonly expiryWarning: Signal<ExpiryWarning | null> = this.expiry.warning;

  constructor() {
    const stopListening = this.channel.listen((message) => this.fromOtherTab(message));
    // A page restored from the back/forward cache may sign in again.
    const onPageShow = (event: PageTransitionEvent) => {
      if (event.persisted) this.leavingForSignIn = false;
    };
    const window = this.document.defaultView;
    window?.addEventListener('pageshow', onPageShow);
    this.destroyRef.onDestroy(() => {
      stopListening();
      window?.removeEventListener('pageshow', onPageShow);
      this.expiry.stop();
    });
  }

  /** Asks the BFF at once and, unless turned off, on every router navigation (`provideOidcBff` calls this). */
  start(): void {
    if (this.started) return;
    this.started = true;
    void this.refresh();
    if (this.config.refreshOnNavigation) {
      this.router.events
        .pipe(
          filter((event) => event instanceof NavigationStart),
          takeUntilDestroyed(this.destroyRef),
        )
        .subscribe(() => void this.refresh());
    }
  }

  /** Whether the signed-in user has any one of `roles` (reads signals: reactive in templates and `computed`). */
  hasRole(...roles: string[]): boolean {
    const held = this.roles();
    return roles.some((role) => held.includes(role));
  }

  /**
   * Asks the BFF who is signed in (it refreshes the tokens first when due). Concurrent calls share
   * one request. Never rejects: when the BFF cannot be reached, the last answer stands (signed
   * out if there was none), and nothing is told to the other tabs.
   */
  refresh(): Promise<SessionInfo> {
    this.inFlight ??= firstValueFrom(this.http.get<unknown>(this.config.sessionPath, { observe: 'response' }))
      .then(
        (response) => {
          this.learnServerClock(response.headers.get('Date'), Date.now());
          this.fromServer(asSessionInfo(response.body));
          return this.info() ?? SIGNED_OUT;
        },
        () => {
          if (this.info() === undefined) this.apply(SIGNED_OUT);
          return this.info() ?? SIGNED_OUT;
        },
      )
      .finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  /** Uses the session, which moves the BFF's idle deadline: what an expiry warning's "stay signed in" calls. */
  extend(): Promise<SessionInfo> {
    return this.refresh();
  }

  /**
   * Sends the browser to sign in, to come back to `returnTo` (a router URL; default: the current
   * one). A full page navigation: sign-in is a chain of server redirects.
   */
  login(returnTo?: string): void {
    this.page.assign(this.loginUrl(returnTo));
  }

  /** The sign-in URL `login()` goes to, e.g. for a link. */
  loginUrl(returnTo: string = this.router.url): string {
    return loginUrl(this.config.loginPath, this.pagePath(returnTo));
  }

  /**
   * Signs out: `POST` to the logout endpoint (HttpClient adds the CSRF header), tells the other
   * tabs, then sends the browser to the returned `logoutUrl` (the SSO's end-session page) so the
   * SSO session ends too. If the BFF refuses because the session had already ended, the app just
   * shows signed out.
   */
  async logout(): Promise<void> {
    let result: LogoutResult | null;
    try {
      result = await firstValueFrom(this.http.post<LogoutResult | null>(this.config.logoutPath, null));
    } catch (error) {
      const info = await this.refresh();
      if (info.authenticated) throw error;
      this.leaveGuardedPage();
      return;
    }
    this.apply(SIGNED_OUT);
    this.channel.post({ type: 'signed-out' });
    const target = result?.logoutUrl;
    this.page.assign(typeof target === 'string' && target !== '' ? target : '/');
  }

  /**
   * After a 401 from the BFF: asks the session endpoint once, however many 401s arrive together.
   * Nobody signed in: sends the browser to sign in and come back to `returnTo` (default: the
   * current router URL), resolves `true`. Still signed in: the 401 came from the API behind the
   * BFF, and signing in again would only loop: resolves `false`.
   */
  handleUnauthorized(returnTo?: string): Promise<boolean> {
    if (this.leavingForSignIn) return Promise.resolve(true);
    this.unauthorized ??= this.refresh()
      .then((info) => {
        if (info.authenticated) return false;
        this.leavingForSignIn = true;
        this.login(returnTo);
        return true;
      })
      .finally(() => (this.unauthorized = undefined));
    return this.unauthorized;
  }

  /** A fresh answer of the BFF: keep it, and tell the other tabs what changed. */
  private fromServer(info: SessionInfo): void {
    const before = this.info();
    this.apply(info);
    if (info.authenticated && info.user) {
      this.channel.post({ type: 'session', sub: info.user.sub, expiresAt: info.expiresAt ?? null });
    } else if (before?.authenticated !== false) {
      this.channel.post({ type: 'signed-out' });
    }
  }

  private fromOtherTab(message: SessionMessage): void {
    const current = this.info();
    if (message.type === 'signed-out') {
      if (current?.authenticated === false) return;
      this.apply(SIGNED_OUT);
      this.leaveGuardedPage();
      return;
    }
    if (current?.authenticated && current.user?.sub === message.sub) {
      // The same session, used in another tab: its deadline only moves later.
      const theirs = parseTime(message.expiresAt ?? undefined);
      const ours = parseTime(current.expiresAt);
      if (theirs && (!ours || theirs > ours)) this.apply({ ...current, expiresAt: message.expiresAt ?? undefined });
      return;
    }
    void this.refresh(); // someone signed in: ask the BFF (the cookie jar is shared)
  }

  /**
   * The session's end, as the expiry timer saw it: the BFF confirms, then the page follows. If
   * the BFF still reports the session, the timers are armed again for what it says (even the same
   * deadline: the BFF's clock was a little behind the estimate).
   */
  private async sessionEnded(): Promise<void> {
    this.watched = '';
    const info = await this.refresh();
    if (!info.authenticated) this.leaveGuardedPage();
  }

  private apply(info: SessionInfo): void {
    this.info.set(info);
    const expiresAt = info.authenticated ? (parseTime(info.expiresAt) ?? null) : null;
    const key = `${expiresAt?.getTime()}@${Math.round(this.serverOffsetMs / 1000)}`; // the offset jitters by milliseconds
    if (key === this.watched) return; // the same deadline: keep the timers (and the countdown) running
    this.watched = key;
    this.expiry.watch(expiresAt, this.serverOffsetMs);
  }

  /** A page that needs a session makes no sense without one: go to `signedOutRoute`. */
  private leaveGuardedPage(): void {
    if (showsGuardedRoute(this.router.routerState.snapshot.root)) {
      void this.router.navigateByUrl(this.config.signedOutRoute);
    }
  }

  /** The `Date` header has whole seconds: assume the middle of that second. */
  private learnServerClock(date: string | null, receivedAt: number): void {
    const server = date ? Date.parse(date) : NaN;
    if (Number.isFinite(server)) this.serverOffsetMs = server + 500 - receivedAt;
  }

  /** A router URL as a path of this origin (base href and hash routing included). */
  private pagePath(routerUrl: string): string {
    const here = this.document.location;
    const url = new URL(this.location.prepareExternalUrl(routerUrl), here.href);
    return url.origin === here.origin ? `${url.pathname}${url.search}${url.hash}` : '/';
  }
}

function parseTime(value: string | undefined): Date | undefined {
  if (typeof value !== 'string') return undefined;
  const time = Date.parse(value);
  return Number.isFinite(time) ? new Date(time) : undefined;
}

/** The session endpoint's body, checked: anything that is not a signed-in session with a user is "signed out". */
function asSessionInfo(body: unknown): SessionInfo {
  if (typeof body !== 'object' || body === null) return SIGNED_OUT;
  const info = body as Partial<SessionInfo>;
  const user = info.user as Partial<SessionUser> | undefined;
  if (info.authenticated !== true || typeof user !== 'object' || user === null || typeof user.sub !== 'string') {
    return SIGNED_OUT;
  }
  const roles = Array.isArray(user.roles) ? user.roles.filter((role): role is string => typeof role === 'string') : [];
  return { ...info, authenticated: true, user: { ...user, sub: user.sub, roles } } as SessionInfo;
}

