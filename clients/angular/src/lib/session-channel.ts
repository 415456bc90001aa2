import { DestroyRef, inject, Injectable } from '@angular/core';
import { OIDC_BFF_CONFIG } from './config';

/**
 * What one tab tells the others. No token or CSRF value travels: only what the tabs could each
 * learn from `/api/session`, and the receivers ask the BFF themselves when they need more.
 *
 * - `signed-out`: the session ended (sign-out, or the BFF said nobody is signed in).
 * - `session`: the BFF reported this signed-in session (after a sign-in, a refresh, an extension).
 */
export type SessionMessage =
  | { type: 'signed-out' }
  | { type: 'session'; sub: string; expiresAt: string | null };

/** The tabs of the app on this origin, over a `BroadcastChannel` (none when turned off or unsupported). */
@Injectable({ providedIn: 'root' })
export class SessionChannel {
  private readonly channel: BroadcastChannel | null;
  private readonly listeners = new Set<(message: SessionMessage) => void>();

  constructor() {
    const name = inject(OIDC_BFF_CONFIG).crossTabChannel;
    this.channel = name !== false && typeof BroadcastChannel === 'function' ? new BroadcastChannel(name) : null;
    this.channel?.addEventListener('message', (event: MessageEvent<unknown>) => {
      const message = parseMessage(event.data);
      if (message) for (const listener of this.listeners) listener(message);
    });
    inject(DestroyRef).onDestroy(() => this.channel?.close());
  }

  /** Tells every other tab (a `BroadcastChannel` does not deliver to its sender). */
  post(message: SessionMessage): void {
    this.channel?.postMessage(message);
  }

  /** Calls `listener` with each message from another tab; returns the unsubscribe function. */
  listen(listener: (message: SessionMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** Anything on the channel that is not one of our messages is ignored. */
function parseMessage(data: unknown): SessionMessage | null {
  if (typeof data !== 'object' || data === null) return null;
  const message = data as Record<string, unknown>;
  if (message['type'] === 'signed-out') return { type: 'signed-out' };
  if (
    message['type'] === 'session' &&
    typeof message['sub'] === 'string' &&
    (typeof message['expiresAt'] === 'string' || message['expiresAt'] === null)
  ) {
    return { type: 'session', sub: message['sub'], expiresAt: message['expiresAt'] };
  }
  return null;
}
