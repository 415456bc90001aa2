import { Component, inject } from '@angular/core';
import { RouterLink } from '@angular/router';
import { SessionStore } from '@oidc-bff/angular';

@Component({
  selector: 'app-home',
  imports: [RouterLink],
  template: `
    <section data-testid="home">
      <div class="card">
        <h1>Welcome</h1>
        @if (session.loaded()) {
          @if (session.authenticated()) {
            <p class="state" data-testid="signed-in-state">Signed in as {{ session.displayName() }}</p>
            <p class="muted">
              Your tokens never reach this page: the BFF keeps them in an encrypted httpOnly cookie and adds them to
              the API calls it relays.
            </p>
            <p>
              Try the <a routerLink="/chat">streamed chat</a>
              @if (session.hasRole('analyst')) {
                or the <a routerLink="/analytics">analytics report</a>.
              } @else {
                (the analytics report needs the <code>analyst</code> role).
              }
            </p>
          } @else {
            <p class="state" data-testid="signed-in-state">Not signed in</p>
            <p class="muted">Sign in with your company account to use Chat and Analytics.</p>
            <button type="button" class="button" data-testid="home-login-link" (click)="session.login()">Sign in</button>
          }
        } @else {
          <p class="muted">Checking your session…</p>
        }
      </div>
      <div class="card muted small">
        This is the reference Angular app of <strong>oidc-bff</strong>. Its sign-in, guards, CSRF header, 401
        handling, cross-tab sign-out and expiry warning all come from <code>@oidc-bff/angular</code>
        (<code>clients/angular/</code>); the app only configures it.
      </div>
    </section>
  `,
  styles: `
    .state {
      font-size: 1.1rem;
      font-weight: 600;
    }
    .small {
      font-size: 0.9rem;
    }
  `,
})
export default class Home {
  protected readonly session = inject(SessionStore);
}
