import { LifelineError, type Json } from '@lifeline/protocol';
import type { NodeEngine, PushEngine, SessionEngine } from './engine-sessions.js';

/**
 * The `Engine`: everything that must outlive a process or be seen by other nodes
 * (DESIGN.md, "Engines: one machine or many", guarantee 10). This file holds its channel part
 * (guarantee 9): per-channel logs with offsets and epochs, idempotent publish, cursor reads of
 * the history, cross-node notifications, and presence.
 *
 * The semantics are those a Redis engine can give with the same guarantees: a channel log is a
 * Redis Stream trimmed by length and by age (XADD MAXLEN / XTRIM MINID), its position
 * (offset, epoch) and its idempotency ids a hash beside it, each publish one Lua script (append,
 * trim, record the id, PUBLISH the notification), notifications Redis pub/sub on one channel
 * per Lifeline channel, presence a hash of members with a sorted set of expiry times. Hence:
 *
 * - every method is async, and each one is atomic on its own (no caller-side transactions);
 * - notifications are at most once (Redis pub/sub drops what a disconnected node misses) and in
 *   offset order per channel: a node that sees an offset jump, or an epoch change, reads the
 *   history to fill the hole; the log, never the notifications, is the source of truth;
 * - everything is bounded: history by entries, bytes and age; channels by count; members by
 *   count and by a time to live that their holder refreshes.
 */
export interface Engine {
  /**
   * Append one publication to `channel`'s log and notify every listener of the channel, on
   * every node. The offset is the previous one + 1. With an `id` that is still in the channel's
   * history, nothing is appended or notified again: the first publication's offset comes back
   * with `duplicate: true`. When the channel's history was entirely lost (expired, evicted, or
   * the engine restarted), the publication opens a new epoch at offset 1.
   */
  publish(channel: string, data: string, options: PublishOptions): Promise<PublishResult>;

  /**
   * Read the log from a cursor: publications with offset > `since` (from the oldest retained
   * when absent), oldest first, at most `limit` (0: none, only the position). When the first
   * publication returned is above `since + 1`, or `epoch` is not the caller's, the history no
   * longer holds what lies between: the caller reports a gap.
   */
  history(channel: string, options: HistoryOptions): Promise<HistoryPage>;

  /**
   * The latest offset of `channel` (0 when nothing was published in this epoch) and its epoch.
   * Asking creates the channel's position when it has none, so the epoch is stable from then on
   * while the channel has history, members or listeners (and for a grace period after).
   */
  position(channel: string): Promise<ChannelPosition>;

  /**
   * Hear `channel`'s publications, joins and leaves, made on any node, from now on. While a
   * node listens, the channel's position is kept. Resolves with the function that stops
   * listening (idempotent). Per channel rather than one firehose, so a node hears only what its
   * own subscribers want (a Redis SUBSCRIBE per channel in use).
   */
  listen(channel: string, listener: ChannelListener): Promise<Unlisten>;

  /**
   * Record `member` as present in `channel` for `ttlMs`; calling again refreshes the time to
   * live. A member new to the channel is notified as a `join`.
   */
  presenceAdd(channel: string, member: PresenceMember, ttlMs: number): Promise<void>;

  /** Remove the member `clientId` from `channel`; a member that was there is notified as a `leave`. */
  presenceRemove(channel: string, clientId: string): Promise<void>;

  /** Who is present in `channel` now, on every node (members past their time to live are not). */
  presence(channel: string): Promise<PresenceMember[]>;

  /**
   * Session state (engine-sessions.ts): records, each session's accepted mark, claims and result
   * cache, and the hand-over of a message whose handler ran on a node that died
   * (`ctx.redelivered`). Optional until the server is wired onto it; the memory engine has it.
   */
  readonly sessions?: SessionEngine;
  /** Each session's unacknowledged server → client pushes (engine-sessions.ts). */
  readonly pushes?: PushEngine;
  /** Node liveness: heartbeats whose lapse lets another node take over a running claim. */
  readonly nodes?: NodeEngine;

  /** Stop timers and drop connections; every later call rejects with `ClosedError`. */
  close(): Promise<void>;
}

export interface PublishOptions {
  /** Idempotency id (1–128 characters): a publication with an id still in the history is not appended again. */
  readonly id?: string;
  /** Most publications the channel's history keeps (0: none; the offset still advances). */
  readonly historySize: number;
  /** How long a publication stays in the history, ms (> 0, finite). */
  readonly historyTtlMs: number;
}

export interface PublishResult {
  readonly offset: number;
  readonly epoch: string;
  /** True when `id` was already in the history: nothing was appended or notified. */
  readonly duplicate: boolean;
}

export interface HistoryOptions {
  /** Exclusive cursor: publications with a greater offset. Absent: from the oldest retained. */
  readonly since?: number;
  /** Most publications to return (0: none, only the position). */
  readonly limit: number;
}

/** One stored publication. `data` is the payload as encoded once at publish (JSON text). */
export interface Publication {
  readonly offset: number;
  readonly id?: string;
  readonly data: string;
  /** Engine wall clock at append, ms since the Unix epoch. */
  readonly publishedAt: number;
}

export interface HistoryPage {
  readonly publications: readonly Publication[];
  /** The channel's latest offset. */
  readonly offset: number;
  readonly epoch: string;
}

export interface ChannelPosition {
  readonly offset: number;
  readonly epoch: string;
}

export interface PresenceMember {
  /** Unique in the channel: one per subscribing client. */
  readonly clientId: string;
  readonly sessionId: string;
  /** What the server chooses to show of the subscriber's identity. */
  readonly identity?: Json;
}

/**
 * What a listener hears. A publication carries its stored form (`data` as encoded at publish),
 * so a node encodes its `pub` frame once and writes the same bytes to all its subscribers.
 */
export type ChannelEvent =
  | { readonly type: 'publication'; readonly channel: string; readonly epoch: string; readonly publication: Publication }
  | { readonly type: 'join' | 'leave'; readonly channel: string; readonly member: PresenceMember };

export type ChannelListener = (event: ChannelEvent) => void;

export type Unlisten = () => Promise<void>;

/** Which engine bound was hit. */
export type ChannelLimit = 'channels' | 'members' | 'bytes';

/**
 * An engine bound refused an operation (too many channels, too many members, a publication
 * larger than a history may hold). Nothing was stored or notified.
 */
export class ChannelLimitError extends LifelineError {
  declare readonly code: 'ERR_CHANNEL_LIMIT';
  readonly limit: ChannelLimit;
  constructor(limit: ChannelLimit, message: string) {
    super('ERR_CHANNEL_LIMIT', message);
    this.name = 'ChannelLimitError';
    this.limit = limit;
  }
}
