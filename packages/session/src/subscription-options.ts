import type { ChannelMember, Json, LifelineError, StreamPosition } from '@lifeline/protocol';
import type { Subscription } from './subscription.js';

/*
 * What a channel subscription is given and gives (`client.subscribe()`, DESIGN.md "Channels"):
 * its options with their defaults, and the shapes of its events. The behaviour is subscription.ts.
 */

/** What a `'publication'` listener gets besides the data. */
export interface PublicationMeta {
  readonly channel: string;
  readonly offset: number;
  readonly epoch: string;
  /** When the server stored it (server wall clock, ms since the Unix epoch). */
  readonly publishedAt: number;
  /** The publisher's idempotency id, when it gave one. */
  readonly id: string | undefined;
}

/** One publication as `publications()` yields it. */
export interface Publication {
  readonly data: Json;
  readonly meta: PublicationMeta;
}

/** The payload of `'gap'`: publications `from`..`to` will never be delivered (the history lost them). */
export interface GapInfo {
  readonly channel: string;
  readonly from: number;
  readonly to: number;
  /** `'evicted'` (too far behind the history) or `'epoch'` (the history was lost); others may come. */
  readonly reason: string;
}

export interface SubscribeOptions {
  /** Deliver every publication after this saved position (a `sub.position` of an earlier run). @default undefined (from now) */
  since?: StreamPosition;
  /**
   * Most publications held for this subscription that the application has not taken (no
   * listener ran, the iterator did not ask); also the `sub.win` the server honours.
   * @default 256
   */
  window?: number;
  /**
   * Most characters of JSON held for this subscription that the application has not taken. Over
   * it, what arrives is not held nor acknowledged: once the application has taken half of what is
   * held the client subscribes again from its position, so nothing is lost.
   * @default 8_388_608 (8 MiB)
   */
  maxBufferedBytes?: number;
}

export interface ReadyOptions {
  /** @default 30_000 */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface PresenceOptions {
  /** @default 10_000 */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface SubscriptionEvents {
  publication: (data: Json, meta: PublicationMeta) => void;
  gap: (info: GapInfo) => void;
  join: (member: ChannelMember) => void;
  leave: (member: ChannelMember) => void;
  /** The server ended the subscription (`suberr`): the error says why; the subscription is over. */
  error: (error: LifelineError) => void;
}

export const subscriptionDefaults = Object.freeze({
  window: 256,
  maxBufferedBytes: 8 * 1024 * 1024,
  readyTimeoutMs: 30_000,
  presenceTimeoutMs: 10_000,
});

/** What a subscription needs of the client's channel registry. */
export interface SubscriptionHost {
  /** Whether a connection is open (frames pushed now go out). */
  isOpen(): boolean;
  /** Send `sub` on the open connection. */
  sendSub(sub: Subscription, since: StreamPosition | undefined, win: number): void;
  sendUnsub(channel: string): void;
  sendPresence(channel: string): void;
  /**
   * A `pack` is due for this subscription. `urgent`: half the window is taken but unannounced (or
   * the epoch changed), so the next flush takes it; otherwise any flush may, and a timer sees to it.
   */
  packDue(sub: Subscription, urgent: boolean): void;
  /** The subscription ended (unsubscribe, refusal, close): forget it. */
  ended(sub: Subscription, unsubscribe: boolean): void;
  /** Retry after `ERR_CHANNEL_UNAVAILABLE`: a delay, growing with `attempt`. */
  retryDelay(attempt: number): number;
  /** A listener threw: the client's `'error'` event reports it. */
  listenerError(error: unknown): void;
}
