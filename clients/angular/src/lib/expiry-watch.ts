import { signal } from '@angular/core';

/** Shown by `SessionStore.expiryWarning()` while the session is about to end. */
export interface ExpiryWarning {
  /** When the session ends (the BFF's `expiresAt`). */
  expiresAt: Date;
  /** Whole seconds left, counting down once a second; 0 at the end. */
  secondsLeft: number;
}

/** The end timer fires this long after `expiresAt`, so the BFF has surely ended the session by then. */
export const END_GRACE_MS = 1500;

/** `setTimeout` takes at most 2^31 − 1 ms (24.8 days); longer waits are chained. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/** One pending callback that may be cleared or replaced; waits longer than `setTimeout` allows are chained. */
class Timer {
  private handle: ReturnType<typeof setTimeout> | undefined;

  start(callback: () => void, delayMs: number): void {
    this.clear();
    const step = (remaining: number) => {
      this.handle = setTimeout(
        () => (remaining > MAX_DELAY_MS ? step(remaining - MAX_DELAY_MS) : callback()),
        Math.max(0, Math.min(remaining, MAX_DELAY_MS)),
      );
    };
    step(delayMs);
  }

  clear(): void {
    clearTimeout(this.handle);
    this.handle = undefined;
  }
}

/**
 * Watches one session's end: raises the warning `warningMs` before it (then counts down every
 * second) and calls `onEnd` just after it. Times come from the BFF's clock; `offsetMs` (the
 * server's clock minus this browser's) converts them, so a browser whose clock is off neither
 * warns at the wrong time nor asks the BFF before the session is really over (which would slide
 * it and keep an abandoned session alive).
 */
export class ExpiryWatch {
  private readonly state = signal<ExpiryWarning | null>(null);
  readonly warning = this.state.asReadonly();

  private readonly warnTimer = new Timer();
  private readonly endTimer = new Timer();
  private ticker: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly warningMs: number,
    private readonly onEnd: () => void,
  ) {}

  /** (Re)arms for a session ending at `expiresAt` (server time), or disarms for `null`. */
  watch(expiresAt: Date | null, offsetMs: number): void {
    this.stop();
    if (expiresAt === null) return;
    const localEnd = expiresAt.getTime() - offsetMs;
    const now = Date.now();
    if (this.warningMs > 0) {
      const showAt = localEnd - this.warningMs;
      if (showAt <= now) this.show(expiresAt, localEnd);
      else this.warnTimer.start(() => this.show(expiresAt, localEnd), showAt - now);
    }
    this.endTimer.start(() => {
      this.stop();
      this.onEnd();
    }, localEnd - now + END_GRACE_MS);
  }

  /** No session to watch: clears the warning and every timer. */
  stop(): void {
    this.warnTimer.clear();
    this.endTimer.clear();
    clearInterval(this.ticker);
    this.ticker = undefined;
    this.state.set(null);
  }

  private show(expiresAt: Date, localEnd: number): void {
    const tick = () =>
      this.state.set({ expiresAt, secondsLeft: Math.max(0, Math.ceil((localEnd - Date.now()) / 1000)) });
    tick();
    clearInterval(this.ticker);
    this.ticker = setInterval(tick, 1000);
  }
}
