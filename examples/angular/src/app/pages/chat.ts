import { Component, DestroyRef, inject, signal } from '@angular/core';
import { Router } from '@angular/router';
import { SessionService } from '../auth/session.service';
import { ChatStreamError, streamChat } from '../chat/chat-stream';

@Component({
  selector: 'app-chat',
  template: `
    <section class="card" data-testid="chat-page">
      <h1>Chat</h1>
      <p class="muted">The answer streams from the upstream API through the BFF, one server-sent event at a time.</p>
      <form class="ask" (submit)="$event.preventDefault(); send(box.value)">
        <input #box type="text" name="message" placeholder="Ask something…" autocomplete="off" data-testid="chat-input" />
        <button class="button" type="submit" [disabled]="streaming()" data-testid="chat-send">Send</button>
      </form>
      <div
        class="output"
        data-testid="chat-output"
        [attr.data-event-count]="eventCount()"
        [attr.data-done]="done() ? 'true' : null"
        aria-live="polite"
      >{{ output() }}</div>
      @if (error(); as message) {
        <p class="notice error" data-testid="chat-error">{{ message }}</p>
      }
    </section>
  `,
  styles: `
    .ask {
      display: flex;
      gap: 0.5rem;
      margin-bottom: 1rem;
    }
    .ask input {
      flex: 1;
    }
    .output {
      min-height: 6rem;
      padding: 0.75rem 1rem;
      border-radius: 8px;
      background: #f6f8fb;
      border: 1px solid var(--line);
      white-space: pre-wrap;
    }
  `,
})
export default class Chat {
  private readonly router = inject(Router);
  private readonly session = inject(SessionService);
  private controller?: AbortController;

  protected readonly output = signal('');
  protected readonly eventCount = signal(0);
  protected readonly done = signal(false);
  protected readonly streaming = signal(false);
  protected readonly error = signal('');

  constructor() {
    inject(DestroyRef).onDestroy(() => this.controller?.abort());
  }

  protected async send(text: string): Promise<void> {
    const message = text.trim();
    if (!message || this.streaming()) return;
    this.controller?.abort();
    this.controller = new AbortController();
    this.output.set('');
    this.eventCount.set(0);
    this.done.set(false);
    this.error.set('');
    this.streaming.set(true);
    try {
      for await (const { token } of streamChat(message, this.controller.signal)) {
        this.output.update((text) => text + token); // rendered as each event arrives
        this.eventCount.update((n) => n + 1);
      }
      this.done.set(true);
    } catch (err) {
      if (this.controller.signal.aborted) return;
      // 401: the session is gone; sign in again and come back here (as the interceptor does).
      if (err instanceof ChatStreamError && err.status === 401 && (await this.session.signInIfSignedOut(this.router.url))) return;
      this.error.set(err instanceof Error ? err.message : String(err));
    } finally {
      this.streaming.set(false);
    }
  }
}
