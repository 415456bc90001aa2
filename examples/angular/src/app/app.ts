import { Component, computed, inject } from '@angular/core';
import { toSignal } from '@angular/core/rxjs-interop';
import { ActivatedRoute, Router, RouterLink, RouterLinkActive, RouterOutlet } from '@angular/router';
import { map } from 'rxjs';
import { authErrorMessage } from './auth/auth-errors';
import { SessionService } from './auth/session.service';

@Component({
  selector: 'app-root',
  imports: [RouterOutlet, RouterLink, RouterLinkActive],
  templateUrl: './app.html',
  styleUrl: './app.css',
})
export class App {
  protected readonly session = inject(SessionService);
  private readonly router = inject(Router);

  protected readonly loginHref = '/api/login?returnTo=/';
  protected readonly roles = computed(() => this.session.user()?.roles.join(', ') || 'no roles');

  /** `/?authError=<code>` (set by the BFF when a sign-in fails), as a readable message. */
  protected readonly authError = toSignal(
    inject(ActivatedRoute).queryParamMap.pipe(map((params) => params.get('authError'))),
    { initialValue: null },
  );
  protected readonly authErrorMessage = computed(() => {
    const code = this.authError();
    return code ? authErrorMessage(code) : '';
  });

  protected dismissAuthError(): void {
    void this.router.navigate([], { queryParams: { authError: null }, queryParamsHandling: 'merge', replaceUrl: true });
  }

  protected signOut(): void {
    void this.session.logout();
  }
}
