import type { ChannelClientFrame, PresenceFrame, SubFrame } from '@lifeline/protocol';
import { ChannelLimitError, type Engine } from '../engine/engine.js';
import type { Session } from '../session.js';
import type { Hub } from './hub.js';
import type { ResolvedChannelOptions } from './options.js';
import type { Presence } from './presence.js';
import { Subscription, type CursorDeps, type SubscriberLink } from './subscription.js';

/** What a connection hands its channel frames to, and tells of its socket and its end. */
export interface ChannelFrames {
  frame(f: ChannelClientFrame): void;
  /** The socket took what it had buffered: paused subscriptions go on. */
  drained(): void;
  /** The connection is gone: its subscriptions end (the client subscribes again on its next one). */
  close(): void;
}

export interface SubscriptionsDeps {
  readonly options: Pick<ResolvedChannelOptions, 'authorize' | 'maxSubscriptions' | 'window'>;
  readonly engine: Pick<Engine, 'history' | 'presence'>;
  readonly hub: Pick<Hub, 'add' | 'remove' | 'units'>;
  readonly presence: Pick<Presence, 'add' | 'remove'>;
  readonly reportError: (error: unknown) => void;
}

type RefusalCode = 'ERR_UNAUTHORIZED' | 'ERR_ALREADY_SUBSCRIBED' | 'ERR_CHANNEL_LIMIT' | 'ERR_CHANNEL_UNAVAILABLE';

/**
 * The subscriptions of one connection (protocol.md, "Channels"). They belong to the connection:
 * they end with it, and the client sends `sub` again (with `since`) on its next connection, which
 * is authorized again. Bounded by `maxSubscriptions`; each is a `Subscription` cursor.
 */
/**
 * What a connection without subscriptions reads: one empty Map for all of them, never written
 * (`own` gives a connection its own at its first `sub`). An empty Map and Set cost about 450
 * bytes per connection, and most connections of a send-only app never subscribe (issue 14).
 */
const NONE: ReadonlyMap<string, Subscription> = new Map();

export class Subscriptions implements ChannelFrames {
  private subs = NONE as Map<string, Subscription>;
  /** Channels with a `presence` request being answered: more requests meanwhile get that answer. Made at the first. */
  private asking: Set<string> | undefined;
  private closed = false;

  constructor(
    private readonly link: SubscriberLink,
    private readonly session: Session,
    private readonly deps: SubscriptionsDeps,
  ) {}

  /** Subscriptions held now (started or starting). */
  get size(): number {
    return this.subs.size;
  }

  frame(f: ChannelClientFrame): void {
    if (this.closed) return;
    switch (f.t) {
      case 'sub':
        void this.subscribe(f);
        return;
      case 'unsub':
        this.unsubscribe(f.ch);
        return;
      case 'pack':
        this.subs.get(f.ch)?.pack(f.offset);
        return;
      case 'presence':
        void this.members(f);
        return;
    }
  }

  drained(): void {
    for (const sub of this.subs.values()) sub.drained();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const sub of this.subs.values()) this.drop(sub);
    this.subs.clear();
  }

  private async subscribe(f: SubFrame): Promise<void> {
    const { ch } = f;
    if (this.subs.has(ch)) return this.refuse(ch, 'ERR_ALREADY_SUBSCRIBED', `already subscribed to ${ch} on this connection`);
    const max = this.deps.options.maxSubscriptions;
    if (this.subs.size >= max) return this.refuse(ch, 'ERR_CHANNEL_LIMIT', `at most ${max} subscriptions per connection (maxSubscriptions)`);
    const window = Math.min(f.win ?? Infinity, this.deps.options.window);
    const cursor: CursorDeps = {
      engine: this.deps.engine,
      units: (codec, epoch) => this.deps.hub.units(ch, codec, epoch),
      failed: this.failed,
    };
    const sub = new Subscription(ch, this.link, window, cursor);
    if (this.subs === NONE) this.subs = new Map();
    this.subs.set(ch, sub);
    try {
      if (!(await this.authorized(ch))) return this.end(sub, 'ERR_UNAUTHORIZED', `not authorized to subscribe to ${ch}`);
      if (!this.current(sub)) return;
      await this.deps.hub.add(ch, sub);
      if (!this.current(sub)) return;
      await this.deps.presence.add(this.session, ch, (c) => this.subs.has(c));
      if (!this.current(sub)) return;
      await sub.start(f.since);
    } catch (error) {
      if (!this.current(sub)) return;
      if (error instanceof ChannelLimitError) return this.end(sub, 'ERR_CHANNEL_LIMIT', error.message);
      this.deps.reportError(error);
      this.end(sub, 'ERR_CHANNEL_UNAVAILABLE', `${ch} cannot be served now, subscribe again later`);
    }
  }

  /** `authorize` said yes (only `true` is a yes); a throw is wrapped and rethrown as the check not being made. */
  private async authorized(ch: string): Promise<boolean> {
    const authorize = this.deps.options.authorize;
    if (authorize === undefined) return true;
    try {
      return (await authorize(this.session, ch)) === true;
    } catch (error) {
      throw new Error(`channels.authorize() threw for ${ch}; the client was told ERR_CHANNEL_UNAVAILABLE`, { cause: error });
    }
  }

  /** Whether `sub` is still this connection's subscription to its channel (no `unsub`, no close meanwhile). */
  private current(sub: Subscription): boolean {
    return !this.closed && this.subs.get(sub.channel) === sub;
  }

  /** `unsub`: the subscription ends, and the session leaves the channel's presence (even when this connection was not subscribed). */
  private unsubscribe(ch: string): void {
    const sub = this.subs.get(ch);
    if (sub !== undefined) {
      this.subs.delete(ch);
      this.drop(sub);
    }
    this.deps.presence.remove(this.session.id, ch);
  }

  /** The history could not be read mid-subscription. */
  private readonly failed = (sub: Subscription, error: unknown): void => {
    if (!this.current(sub)) return;
    this.deps.reportError(error);
    this.end(sub, 'ERR_CHANNEL_UNAVAILABLE', `${sub.channel} cannot be served now, subscribe again later`);
  };

  /**
   * End `sub` with `suberr`: refused, or ended by the server. The session leaves the channel's
   * presence too (it may have been there since an earlier connection, and is not subscribed now).
   */
  private end(sub: Subscription, code: RefusalCode, message: string): void {
    if (!this.current(sub)) return;
    this.subs.delete(sub.channel);
    this.drop(sub);
    this.refuse(sub.channel, code, message);
    this.deps.presence.remove(this.session.id, sub.channel);
  }

  private drop(sub: Subscription): void {
    sub.end();
    this.deps.hub.remove(sub.channel, sub);
  }

  private refuse(ch: string, code: RefusalCode, message: string): void {
    this.link.push(this.link.codec.suberr(ch, { code, message }));
  }

  /**
   * `presence`: the members on every node, for a subscription that is open; an empty list for a
   * channel this connection is not subscribed to (it may not see who is there). One engine read
   * per channel at a time: requests that come meanwhile are answered by its `members`.
   */
  private async members(f: PresenceFrame): Promise<void> {
    const { ch } = f;
    if (this.asking?.has(ch) === true) return;
    const codec = this.link.codec;
    const sub = this.subs.get(ch);
    if (sub === undefined || !sub.open) {
      this.link.push(codec.members(ch, []));
      return;
    }
    (this.asking ??= new Set()).add(ch);
    try {
      const members = await this.deps.engine.presence(ch);
      if (this.closed) return;
      this.link.push(codec.members(ch, members.map((m) => codec.value(m))));
    } catch (error) {
      this.deps.reportError(error);
      if (!this.closed) this.link.push(codec.members(ch, []));
    } finally {
      this.asking?.delete(ch);
    }
  }
}
