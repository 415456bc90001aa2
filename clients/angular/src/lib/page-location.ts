import { DOCUMENT, inject, Injectable } from '@angular/core';

/**
 * Full-page navigations (to the BFF's sign-in endpoint, to the SSO's end-session page). Sign-in
 * and sign-out are chains of server redirects, so they leave the app; the router cannot do that.
 * Replace this service in tests to observe where the app would go.
 */
@Injectable({ providedIn: 'root' })
export class PageLocation {
  private readonly document = inject(DOCUMENT);

  assign(url: string): void {
    this.document.location.assign(url);
  }
}
