import { Component, inject } from '@angular/core';
import { RouterLink } from '@angular/router';
import { SessionStore } from '@oidc-bff/angular';

/** Where roleGuard sends a signed-in user without the role (`forbiddenRoute` in app.config.ts). */
@Component({
  selector: 'app-forbidden',
  imports: [RouterLink],
  template: `
    <section class="card" data-testid="forbidden-page">
      <h1>No access</h1>
      <p>That page needs a role your account does not have.</p>
      <p class="muted">
        Signed in as {{ session.displayName() }}, with the roles:
        <span data-testid="forbidden-roles">{{ session.roles().join(', ') || 'none' }}</span>.
      </p>
      <p><a routerLink="/">Back to the start page</a></p>
    </section>
  `,
})
export default class Forbidden {
  protected readonly session = inject(SessionStore);
}
