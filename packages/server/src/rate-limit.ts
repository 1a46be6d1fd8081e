import type { RateLimit } from './options.js';

/**
 * A token bucket: `capacity` tokens, refilled at `perMs` tokens a millisecond, read lazily (no
 * timer; the refill is computed from the time since the last take). A take larger than the whole
 * bucket passes only when the bucket is full, and leaves it in debt, so one oversized batch is
 * possible but the sustained rate still holds.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly perMs: number;
  private readonly capacity: number;

  constructor(limit: Readonly<RateLimit>, now: number) {
    this.perMs = limit.messagesPerSecond / 1000;
    this.capacity = limit.burst;
    this.tokens = limit.burst;
    this.last = now;
  }

  /** Take `n` tokens at monotonic time `now`; false (and nothing taken) when there are too few. */
  take(n: number, now: number): boolean {
    const tokens = Math.min(this.capacity, this.tokens + (now - this.last) * this.perMs);
    this.last = now;
    if (tokens < Math.min(n, this.capacity)) {
      this.tokens = tokens;
      return false;
    }
    this.tokens = tokens - n;
    return true;
  }

  /** Milliseconds until the bucket is full again (at least 1). */
  refillMs(now: number): number {
    const tokens = Math.min(this.capacity, this.tokens + (now - this.last) * this.perMs);
    return Math.max(1, Math.ceil((this.capacity - tokens) / this.perMs));
  }
}
