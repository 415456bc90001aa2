import { HttpClient, HttpErrorResponse } from '@angular/common/http';
import { Component, inject, signal } from '@angular/core';
import { takeUntilDestroyed } from '@angular/core/rxjs-interop';
import { map } from 'rxjs';
import { ApiConfiguration } from '../api/api-configuration';
import { analyticsReport } from '../api/fn/analytics/analytics-report';
import { AnalyticsReport } from '../api/models/analytics-report';

// `GET /api/analytics/report` is an upstream API the BFF relays. The generated client types it
// from the upstream's own OpenAPI document, which the BFF merges into its spec under the route's
// prefix (openapi/oidc-bff.merged.json, `oidc-bff openapi --merged`).

type State =
  | { kind: 'loading' }
  | { kind: 'ready'; report: AnalyticsReport }
  | { kind: 'denied' }
  | { kind: 'failed'; message: string };

@Component({
  selector: 'app-analytics',
  template: `
    <section class="card" data-testid="analytics-page">
      @switch (state().kind) {
        @case ('loading') {
          <h1>Analytics</h1>
          <p class="muted">Loading the report…</p>
        }
        @case ('denied') {
          <h1>Analytics</h1>
          <p class="notice" data-testid="analytics-denied">You need the analyst role to see analytics.</p>
        }
        @case ('failed') {
          <h1>Analytics</h1>
          <p class="notice error" data-testid="analytics-error">{{ failure() }}</p>
        }
        @case ('ready') {
          <h1>{{ report()?.title }}</h1>
          <table data-testid="analytics-table">
            <thead>
              <tr><th>Month</th><th class="num">Active users</th></tr>
            </thead>
            <tbody>
              @for (row of report()?.rows; track row.month) {
                <tr><td>{{ row.month }}</td><td class="num">{{ row.activeUsers.toLocaleString() }}</td></tr>
              }
            </tbody>
          </table>
        }
      }
    </section>
  `,
})
export default class Analytics {
  protected readonly state = signal<State>({ kind: 'loading' });

  constructor() {
    // roleGuard('analyst') keeps users without the role away; the BFF enforces it too (403, shown
    // as "denied", e.g. when the role was removed at the SSO since). A 401 is handled by
    // provideOidcBff's interceptor (it sends the browser to sign in).
    analyticsReport(inject(HttpClient), inject(ApiConfiguration).rootUrl)
      .pipe(
        map((response) => response.body),
        takeUntilDestroyed(),
      )
      .subscribe({
        next: (report) => this.state.set({ kind: 'ready', report }),
        error: (error: unknown) =>
          this.state.set(
            error instanceof HttpErrorResponse && error.status === 403
              ? { kind: 'denied' }
              : { kind: 'failed', message: describe(error) },
          ),
      });
  }

  protected report(): AnalyticsReport | undefined {
    const state = this.state();
    return state.kind === 'ready' ? state.report : undefined;
  }

  protected failure(): string {
    const state = this.state();
    return state.kind === 'failed' ? state.message : '';
  }
}

function describe(error: unknown): string {
  if (error instanceof HttpErrorResponse) {
    if (error.status === 0) return 'The server cannot be reached. Please try again.';
    // The BFF answers errors as problem+json; its `detail` is safe to show.
    const detail = typeof error.error?.detail === 'string' ? error.error.detail : '';
    return `The report could not be loaded (${error.status}${detail ? `: ${detail}` : ''}).`;
  }
  return 'The report could not be loaded.';
}
