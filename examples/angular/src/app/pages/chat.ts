import { Component, DestroyRef, inject, signal } from '@angular/core';
import { BffFetch, BffHttpError } from '@oidc-bff/angular';
import { chatStream } from '../api/fn/chat/chat-stream';
import { ChatMessage } from '../api/models/chat-message';

/** One server-sent event of `/api/chat/stream`: `data: {"index": 0, "token": "Hello"}`; `event: done` ends it. */
interface ChatToken {
  index: number;
  token: string;
}

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
  private readonly bff = inject(BffFetch);
  private controller?: AbortController;

  protected readonly output = signal('');
  protected readonly eventCount = signal(0);
  protected readonly done = signal(false);
  protected readonly streaming = signal(false);
  protected readonly error = signal('');

  constructor() {
    inject(DestroyRef).onDestroy(() => this.controller?.abort());
  }

  /**
   * POSTs the message and renders each token as its event arrives. `BffFetch.events` adds the
   * CSRF header and, on a 401, checks the session and sends the browser to sign in (as the
   * HttpClient interceptor does); HttpClient itself would hand over the answer only when complete.
   */
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
      // The path and body are typed by the generated client (from the chat upstream's own
      // OpenAPI document, merged into the BFF's); the stream itself is read with BffFetch.
      const body: ChatMessage = { message };
      const events = this.bff.events(chatStream.PATH, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
        signal: this.controller.signal,
      });
      for await (const event of events) {
        if (event.event === 'done') break;
        if (event.event !== 'message') continue;
        const { token } = JSON.parse(event.data) as ChatToken;
        this.output.update((text) => text + token); // rendered as each event arrives
        this.eventCount.update((n) => n + 1);
      }
      this.done.set(true);
    } catch (err) {
      if (this.controller.signal.aborted) return;
      this.error.set(err instanceof BffHttpError ? `The chat service answered ${err.status}.` : String(err));
    } finally {
      this.streaming.set(false);
    }
  }
}
