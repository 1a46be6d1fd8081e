import { isChannelName, maxChannelNameLength } from '@lifeline/protocol/internal';
import { jsonCodec, type Json } from '@lifeline/protocol';
import type { Engine, PresenceMember } from '../engine/engine.js';
import type { Session } from '../session.js';
import { Hub } from './hub.js';
import type { ResolvedChannelOptions } from './options.js';
import { Presence } from './presence.js';
import type { SubscriberLink } from './subscription.js';
import { Subscriptions, type ChannelFrames } from './subscriptions.js';

/** The options of `server.publish()`. */
export interface ChannelPublishOptions {
  /**
   * Idempotency id (1–128 characters): publishing the same id again while the first is in the
   * channel's history stores nothing and resolves with the first offset.
   * @default undefined
   */
  id?: string;
}

/** What `server.publish()` resolves with once the publication is stored. */
export interface ChannelPublishResult {
  readonly channel: string;
  readonly offset: number;
  readonly epoch: string;
}

/** The options of `server.history()`. */
export interface ChannelHistoryOptions {
  /** Publications with an offset above this one. @default 0 (from the oldest kept) */
  since?: number;
  /** Most publications returned (at most 10,000). @default 100 */
  limit?: number;
}

/** One publication as `server.history()` returns it. */
export interface ChannelPublication {
  readonly offset: number;
  readonly id?: string;
  readonly data: Json;
  /** When it was stored, ms since the Unix epoch. */
  readonly publishedAt: number;
}

/** A page of a channel's history, and the channel's position (latest offset, epoch). */
export interface ChannelHistory {
  readonly publications: readonly ChannelPublication[];
  readonly offset: number;
  readonly epoch: string;
}

const MAX_HISTORY_LIMIT = 10_000;

function channelName(method: string, channel: unknown): string {
  if (!isChannelName(channel)) {
    throw new TypeError(`${method}: the channel must be 1-${maxChannelNameLength} characters of A-Z a-z 0-9 _ : . - @ / # =, got ${JSON.stringify(String(channel).slice(0, 64))}`);
  }
  return channel;
}

/**
 * Channels on this node (DESIGN.md "Channels", guarantee 9): `server.publish`, `history` and
 * `presence` on the engine, the node's fan-out (`Hub`), presence kept per session (`Presence`),
 * and one `Subscriptions` per open connection. The engine holds the logs; nothing here holds a
 * publication past the turn that fans it out.
 */
export class Channels {
  readonly hub: Hub;
  readonly presence: Presence;

  constructor(
    private readonly options: ResolvedChannelOptions,
    private readonly engine: Engine,
    /** Closed with the server: the default engine is the server's own, a given one is not. */
    private readonly ownsEngine: boolean,
    private readonly reportError: (error: unknown) => void,
  ) {
    this.hub = new Hub(engine, reportError, options.joinLeave);
    this.presence = new Presence({
      engine,
      ttlMs: options.presenceTtlMs,
      maxPerSession: options.maxSubscriptions,
      identity: options.presence,
      reportError,
    });
  }

  async publish(channel: string, data: unknown, options: ChannelPublishOptions = {}): Promise<ChannelPublishResult> {
    const name = channelName('publish()', channel);
    if (typeof options !== 'object' || options === null) throw new TypeError('publish(): options must be an object');
    const id = options.id;
    if (id !== undefined && (typeof id !== 'string' || id.length === 0 || id.length > 128)) {
      throw new TypeError('publish(): id must be a string of 1 to 128 characters');
    }
    // Encoded once, here: the engine stores this text, and every subscriber's frame embeds it.
    const json = jsonCodec.value(data);
    const { historySize, historyTtlMs } = this.options;
    const stored = await this.engine.publish(name, json, id === undefined ? { historySize, historyTtlMs } : { id, historySize, historyTtlMs });
    return { channel: name, offset: stored.offset, epoch: stored.epoch };
  }

  async history(channel: string, options: ChannelHistoryOptions = {}): Promise<ChannelHistory> {
    const name = channelName('history()', channel);
    if (typeof options !== 'object' || options === null) throw new TypeError('history(): options must be an object');
    const since = options.since ?? 0;
    const limit = options.limit ?? 100;
    if (!Number.isSafeInteger(since) || since < 0) throw new TypeError(`history(): since must be an integer >= 0, got ${String(since)}`);
    if (!Number.isSafeInteger(limit) || limit < 0 || limit > MAX_HISTORY_LIMIT) {
      throw new TypeError(`history(): limit must be an integer from 0 to ${MAX_HISTORY_LIMIT}, got ${String(limit)}`);
    }
    const page = await this.engine.history(name, { since, limit });
    return {
      publications: page.publications.map((p) => {
        const data = JSON.parse(p.data) as Json;
        return p.id === undefined ? { offset: p.offset, data, publishedAt: p.publishedAt } : { offset: p.offset, id: p.id, data, publishedAt: p.publishedAt };
      }),
      offset: page.offset,
      epoch: page.epoch,
    };
  }

  members(channel: string): Promise<PresenceMember[]> {
    return this.engine.presence(channelName('presence()', channel));
  }

  /** The channel frames of a connection that just opened for `session`. */
  open(link: SubscriberLink, session: Session): ChannelFrames {
    return new Subscriptions(link, session, {
      options: this.options,
      engine: this.engine,
      hub: this.hub,
      presence: this.presence,
      reportError: this.reportError,
    });
  }

  /** The session ended: it leaves every channel's presence. */
  sessionEnded(sessionId: string): void {
    this.presence.ended(sessionId);
  }

  async close(): Promise<void> {
    this.presence.stop();
    if (this.ownsEngine) await this.engine.close();
  }
}
