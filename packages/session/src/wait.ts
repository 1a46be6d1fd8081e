import pTimeout from 'p-timeout';
import { AbortError, LifelineError, TimeoutError } from '@lifeline/protocol';

export interface DeadlineOptions {
  /** Positive, or Infinity. */
  timeoutMs: number;
  signal: AbortSignal | undefined;
  /** Names the operation in error messages: `receive()`, `connect()`. */
  what: string;
  /**
   * Called synchronously when the deadline passes or the signal aborts, before the promise
   * rejects: the caller withdraws its waiter here, so nothing is handed to a waiter that gave up.
   */
  cancel: () => void;
}

/**
 * Bound a wait with a deadline (p-timeout) and an `AbortSignal`; rejects with Lifeline's
 * `TimeoutError` or `AbortError` (DESIGN.md guarantee 4: nothing waits forever).
 */
export function withDeadline<T>(promise: Promise<T>, { timeoutMs, signal, what, cancel }: DeadlineOptions): Promise<T> {
  if (signal?.aborted) {
    cancel();
    promise.catch(() => {});
    return Promise.reject(abortError(what, signal));
  }
  // Registered before p-timeout's own listener, so the waiter is gone before any rejection.
  signal?.addEventListener('abort', cancel, { once: true });
  return pTimeout(promise, {
    milliseconds: timeoutMs,
    signal,
    fallback: () => {
      cancel();
      throw new TimeoutError(`${what} timed out after ${timeoutMs} ms`);
    },
  }).then(
    (value) => {
      signal?.removeEventListener('abort', cancel);
      return value;
    },
    (error: unknown) => {
      signal?.removeEventListener('abort', cancel);
      if (signal?.aborted && !(error instanceof LifelineError)) throw abortError(what, signal);
      throw error;
    },
  );
}

export function abortError(what: string, signal: AbortSignal, maybeDelivered = false): AbortError {
  return new AbortError(`${what} was aborted`, { cause: signal.reason, maybeDelivered });
}

interface OpenWaiter {
  resolve(): void;
  reject(error: Error): void;
}

/** The `connect()` calls waiting for the state to turn 'open' (or to fail: 'idle', 'closed'). */
export class OpenWaiters {
  private waiting: OpenWaiter[] = [];

  add(): { opened: Promise<void>; waiter: OpenWaiter } {
    let waiter!: OpenWaiter;
    const opened = new Promise<void>((resolve, reject) => {
      waiter = { resolve, reject };
    });
    this.waiting.push(waiter);
    return { opened, waiter };
  }

  /** A caller gave up (deadline, abort); returns how many still wait. */
  remove(waiter: OpenWaiter): number {
    const i = this.waiting.indexOf(waiter);
    if (i >= 0) this.waiting.splice(i, 1);
    return this.waiting.length;
  }

  resolve(): void {
    for (const w of this.take()) w.resolve();
  }

  reject(error: Error): void {
    for (const w of this.take()) w.reject(error);
  }

  private take(): OpenWaiter[] {
    const waiting = this.waiting;
    if (waiting.length > 0) this.waiting = [];
    return waiting;
  }
}
