import { Component, computed, inject } from '@angular/core';
import { RouterLink, RouterLinkActive, RouterOutlet } from '@angular/router';
import { SessionStore, SignInError } from '@oidc-bff/angular';

@Component({
  selector: 'app-root',
  imports: [RouterOutlet, RouterLink, RouterLinkActive],
  templateUrl: './app.html',
  styleUrl: './app.css',
})
export class App {
  protected readonly session = inject(SessionStore);
  protected readonly signInError = inject(SignInError);
  protected readonly roles = computed(() => this.session.roles().join(', ') || 'no roles');
  /** The warning's deadline as the user's clock shows it. */
  protected readonly endsAt = computed(() => this.session.expiryWarning()?.expiresAt.toLocaleTimeString() ?? '');
}
