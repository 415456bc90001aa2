import { Component, inject } from '@angular/core';
import { RouterLink } from '@angular/router';
import { SessionService } from '../auth/session.service';

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
              Try the <a routerLink="/chat">streamed chat</a> or the <a routerLink="/analytics">analytics report</a>
              (needs the <code>analyst</code> role).
            </p>
          } @else {
            <p class="state" data-testid="signed-in-state">Not signed in</p>
            <p class="muted">Sign in with your company account to use Chat and Analytics.</p>
            <a class="button" [href]="loginHref" data-testid="home-login-link">Sign in</a>
          }
        } @else {
          <p class="muted">Checking your session…</p>
        }
      </div>
      <div class="card muted small">
        This is the reference Angular app of <strong>oidc-bff</strong>: a guard and an interceptor send the browser to
        <code>/api/login</code>, <code>HttpClient</code> sends the CSRF header, and the client for the BFF's own
        endpoints is generated from its OpenAPI document.
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
  protected readonly session = inject(SessionService);
  protected readonly loginHref = '/api/login?returnTo=/';
}
