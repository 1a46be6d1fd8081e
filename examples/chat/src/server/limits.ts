import type { ChatErrorCode } from '../shared/protocol.js';

/** An error the handler throws: Lifeline acks it with `code`, and the page's `send()` rejects with a `RemoteError`. */
export class ChatError extends Error {
  constructor(
    readonly code: ChatErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ChatError';
  }
}

export interface RateOptions {
  /** Actions allowed at once, after a quiet spell (a burst of lines queued offline arrives at once). */
  readonly burst: number;
  /** Actions per second, refilled continuously. */
  readonly perSecond: number;
}

/**
 * Token buckets by key (a user name). Bounded: a bucket that has refilled is forgotten, and past
 * `maxKeys` the least recently used one is dropped (which only ever gives that key a full bucket).
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly rate: RateOptions,
    private readonly maxKeys = 10_000,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(rate.burst >= 1) || !(rate.perSecond > 0)) throw new TypeError(`rate: burst must be ≥ 1 and perSecond > 0, got ${JSON.stringify(rate)}`);
  }

  /** Takes one token for `key`; false when there is none (the caller refuses the action). */
  take(key: string): boolean {
    const t = this.now();
    const bucket = this.buckets.get(key);
    let tokens = this.rate.burst;
    if (bucket !== undefined) {
      tokens = Math.min(this.rate.burst, bucket.tokens + ((t - bucket.at) / 1000) * this.rate.perSecond);
      this.buckets.delete(key); // re-inserted below: the Map's order is least recently used first
    }
    if (tokens < 1) {
      this.buckets.set(key, { tokens, at: t });
      return false;
    }
    this.buckets.set(key, { tokens: tokens - 1, at: t });
    if (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as string);
    return true;
  }

  /** Seconds until `key` has a token again (for the error message). */
  waitSeconds(key: string): number {
    const bucket = this.buckets.get(key);
    if (bucket === undefined) return 0;
    const tokens = bucket.tokens + ((this.now() - bucket.at) / 1000) * this.rate.perSecond;
    return Math.max(0, Math.ceil((1 - tokens) / this.rate.perSecond));
  }
}
