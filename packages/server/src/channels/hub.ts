import type { Codec } from '@lifeline/protocol';
import type { ChannelEvent, Engine, PresenceMember, Publication, Unlisten } from '../engine/engine.js';
import type { Subscriber } from './subscription.js';
import { UnitCache, pubFrame, type ChannelUnits } from './units.js';

/** One channel this node has subscribers of: one engine listener for all of them. */
class Feed {
  readonly subscribers = new Set<Subscriber>();
  readonly units: UnitCache;
  /** Resolves once the engine listens; rejects when it refused. */
  ready: Promise<void> = Promise.resolve();
  unlisten: Unlisten | undefined;
  /** The feed was let go (its last subscriber left): stop listening as soon as the engine does. */
  gone = false;

  constructor(
    readonly channel: string,
    /** `channels.joinLeave` for this channel, asked once. */
    readonly joinLeave: boolean,
  ) {
    this.units = new UnitCache(channel);
  }
}

/**
 * The node's fan-out (guarantee 9, "encoded once"): one `engine.listen` per channel that has
 * subscribers on this node, dropped when the last one leaves. Each publication the engine
 * notifies is encoded into a `pub` frame once per codec in use, by whichever subscriber of that
 * codec takes it first, and the very same unit is written to every other subscriber of that
 * codec: nothing in `pub` is per subscriber. `join` and `leave` likewise, once per event and codec.
 * Subscribers that are not caught up, or whose window is full, do not take it: they read the
 * history at their own pace (`Subscription`), so nothing is queued here.
 */
export class Hub {
  private readonly feeds = new Map<string, Feed>();

  constructor(
    private readonly engine: Pick<Engine, 'listen'>,
    private readonly reportError: (error: unknown) => void,
    private readonly joinLeave: (channel: string) => boolean = () => true,
  ) {}

  /** Channels listened to now. */
  get size(): number {
    return this.feeds.size;
  }

  /** Add `sub` to `channel`'s feed; resolves once the engine listens (rejects, with `sub` removed, when it refused). */
  async add(channel: string, sub: Subscriber): Promise<void> {
    let feed = this.feeds.get(channel);
    if (feed === undefined) {
      const created = new Feed(channel, this.joinLeave(channel));
      feed = created;
      this.feeds.set(channel, created);
      created.ready = this.engine.listen(channel, (event) => this.heard(created, event)).then(
        (unlisten) => {
          if (created.gone) this.stop(unlisten);
          else created.unlisten = unlisten;
        },
        (error: unknown) => {
          if (this.feeds.get(channel) === created) this.feeds.delete(channel);
          created.gone = true;
          throw error;
        },
      );
    }
    feed.subscribers.add(sub);
    try {
      await feed.ready;
    } catch (error) {
      feed.subscribers.delete(sub);
      throw error;
    }
  }

  /** `sub` no longer listens; the last one to leave stops the engine listener. */
  remove(channel: string, sub: Subscriber): void {
    const feed = this.feeds.get(channel);
    if (feed === undefined || !feed.subscribers.delete(sub) || feed.subscribers.size > 0) return;
    this.feeds.delete(channel);
    feed.gone = true;
    if (feed.unlisten !== undefined) this.stop(feed.unlisten);
  }

  /** The channel's encoded name and epoch in `codec` (for frames read from the history). */
  units(channel: string, codec: Codec, epoch: string): ChannelUnits {
    return (this.feeds.get(channel)?.units ?? new UnitCache(channel)).of(codec, epoch);
  }

  private stop(unlisten: Unlisten): void {
    unlisten().catch(this.reportError);
  }

  private heard(feed: Feed, event: ChannelEvent): void {
    if (feed.gone) return;
    try {
      if (event.type === 'publication') this.publication(feed, event.epoch, event.publication);
      else this.presence(feed, event.type, event.member);
    } catch (error) {
      this.reportError(error);
    }
  }

  /**
   * One `pub` unit per codec, made by the first subscriber that takes the publication. A
   * server speaks one codec in almost every deployment, so the first is kept in two locals and
   * any other in a small map.
   */
  private publication(feed: Feed, epoch: string, pub: Publication): void {
    let first: Codec | undefined;
    let unit: unknown;
    let others: Map<Codec, unknown> | undefined;
    const frame = (codec: Codec): unknown => {
      if (codec === first) return unit;
      if (first === undefined) {
        first = codec;
        unit = pubFrame(codec, feed.units.of(codec, epoch), pub);
        return unit;
      }
      others ??= new Map();
      let u = others.get(codec);
      if (u === undefined) others.set(codec, (u = pubFrame(codec, feed.units.of(codec, epoch), pub)));
      return u;
    };
    for (const sub of feed.subscribers) sub.offer(epoch, pub.offset, frame);
  }

  private presence(feed: Feed, type: 'join' | 'leave', member: PresenceMember): void {
    if (!feed.joinLeave) return;
    const units = new Map<Codec, unknown>();
    const frame = (codec: Codec): unknown => {
      let u = units.get(codec);
      if (u === undefined) {
        const ch = feed.units.name(codec);
        const m = codec.value(member);
        units.set(codec, (u = type === 'join' ? codec.join(ch, m) : codec.leave(ch, m)));
      }
      return u;
    };
    for (const sub of feed.subscribers) sub.notify(frame);
  }
}
