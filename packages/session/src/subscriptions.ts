import { ClosedError, type ChannelServerFrame, type StreamPosition } from '@lifeline/protocol';
import { isChannelName, unref } from '@lifeline/protocol/internal';
import { Subscription, type SubscribeOptions, type SubscriptionHost } from './subscription.js';
import type { Wire } from './wire.js';

/** Backoff after `ERR_CHANNEL_UNAVAILABLE`: full jitter, 100 ms doubling to 10 s. */
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 10_000;
/**
 * Longest a taken publication waits for its `pack` when the window is not half used. A pack per
 * publication was a second message per delivery (the fan-out bench's windowed rows). SignalR's
 * stateful reconnect acknowledges on a 1 s timer because its server holds every unacknowledged
 * message; ours holds none (the history is the buffer), so only the window needs the pack, and
 * the half-window rule sees to that. With 1 s, 10,000 subscribers' timers fired together and
 * the fan-out bench's tail grew (windowed 10,000: 1.30-1.92x Socket.IO, 1.52-1.70x at 5 s).
 */
const PACK_DELAY_MS = 5_000;

export interface SubscriptionsHost {
  isOpen(): boolean;
  listenerError(error: unknown): void;
  random(): number;
}

/**
 * The client's channel subscriptions, by channel: routes the server's channel frames to them,
 * subscribes them again on every new connection (from their position), sends the `unsub` of a
 * subscription ended while offline after the next connect, and is the writer's `pack` producer:
 * at most one cumulative `pack` per channel per flush, for what the application took.
 */
export class Subscriptions {
  private readonly subs = new Map<string, Subscription>();
  /** Channels unsubscribed while offline (the server may still count the session as a member). */
  private readonly unsubs = new Set<string>();
  /** Subscriptions with a `pack` due at the next flush. */
  private readonly dirty = new Set<Subscription>();
  private closed = false;
  private readonly subHost: SubscriptionHost;
  private packTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly packLater = (): void => {
    this.packTimer = undefined;
    if (this.dirty.size > 0) this.wire.schedule();
  };

  constructor(
    private readonly host: SubscriptionsHost,
    private readonly wire: Wire,
  ) {
    this.subHost = {
      isOpen: () => this.host.isOpen(),
      sendSub: (sub, since, win) => this.push(this.wire.codec.sub(sub.channel, since, win)),
      sendUnsub: (channel) => this.push(this.wire.codec.unsub(channel)),
      sendPresence: (channel) => this.push(this.wire.codec.presence(channel)),
      packDue: (sub, urgent) => {
        this.dirty.add(sub);
        if (urgent) this.wire.schedule();
        // Never the thing that keeps a process alive.
        else this.packTimer ??= unref(setTimeout(this.packLater, PACK_DELAY_MS));
      },
      ended: (sub, unsubscribe) => this.ended(sub, unsubscribe),
      retryDelay: (attempt) => Math.floor(this.host.random() * Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(attempt, 16))),
      listenerError: (error) => this.host.listenerError(error),
    };
  }

  subscribe(channel: string, options: SubscribeOptions = {}): Subscription {
    if (this.closed) throw new ClosedError('the client is closed');
    if (!isChannelName(channel)) throw new TypeError(`subscribe(): ${JSON.stringify(channel)} is not a channel name (1–255 of A–Z a–z 0–9 _ : . - @ / # =)`);
    validate(options);
    if (this.subs.has(channel)) throw new TypeError(`subscribe(): already subscribed to ${channel}; unsubscribe() first`);
    const sub = new Subscription(this.subHost, channel, options);
    this.subs.set(channel, sub);
    if (this.host.isOpen()) sub.connected();
    return sub;
  }

  /** A connection was established (resumed or not): pending `unsub`s, then every subscription again. */
  connected(): void {
    for (const ch of this.unsubs) this.push(this.wire.codec.unsub(ch));
    this.unsubs.clear();
    for (const sub of this.subs.values()) sub.connected();
  }

  disconnected(): void {
    this.dirty.clear();
    this.stopPackTimer();
    for (const sub of this.subs.values()) sub.disconnected();
  }

  /** A channel frame from the server. Frames for channels not subscribed are ignored. */
  frame(f: ChannelServerFrame): void {
    const sub = this.subs.get(f.ch);
    if (sub === undefined) return;
    switch (f.t) {
      case 'pub':
        sub.pub(f);
        return;
      case 'gap':
        sub.gap(f);
        return;
      case 'subok':
        sub.subok(f);
        return;
      case 'suberr':
        sub.suberr(f);
        return;
      case 'join':
      case 'leave':
        sub.member(f.t, f.member);
        return;
      case 'members':
        sub.members(f.members);
        return;
    }
  }

  /** The writer's flush: one `pack` per channel with something taken since the last. */
  pushPacks(push: (frame: unknown) => void): void {
    if (this.dirty.size === 0) return;
    // Taken out first: a push that fills the batch flushes it, and that flush calls here again.
    const due = [...this.dirty];
    this.dirty.clear();
    for (const sub of due) {
      const offset = sub.takePack();
      if (offset !== undefined) push(this.wire.codec.pack(sub.channel, offset));
    }
  }

  private stopPackTimer(): void {
    if (this.packTimer !== undefined) clearTimeout(this.packTimer);
    this.packTimer = undefined;
  }

  /** The client closed: every subscription ends (ready rejects, iterators end). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const error = new ClosedError('the client closed');
    for (const sub of [...this.subs.values()]) sub.end(error, false);
    this.subs.clear();
    this.unsubs.clear();
    this.dirty.clear();
    this.stopPackTimer();
  }

  private ended(sub: Subscription, unsubscribe: boolean): void {
    if (this.subs.get(sub.channel) !== sub) return;
    this.subs.delete(sub.channel);
    this.dirty.delete(sub);
    if (!unsubscribe || this.closed || !sub.everSent) return;
    if (this.host.isOpen()) this.push(this.wire.codec.unsub(sub.channel));
    else this.unsubs.add(sub.channel);
  }

  private push(frame: unknown): void {
    if (this.host.isOpen()) this.wire.push(frame);
  }
}

function validate(options: SubscribeOptions): void {
  const { since, window, maxBufferedBytes } = options;
  if (since !== undefined) {
    const s = since as Partial<StreamPosition>;
    if (typeof s !== 'object' || s === null || !Number.isSafeInteger(s.offset) || (s.offset as number) < 0 || typeof s.epoch !== 'string' || s.epoch.length < 1 || s.epoch.length > 64) {
      throw new TypeError('subscribe(): since must be { offset: integer ≥ 0, epoch: string of 1–64 characters }');
    }
  }
  if (window !== undefined && (!Number.isInteger(window) || window < 1 || window > 65_536)) throw new TypeError(`subscribe(): window must be an integer from 1 to 65536, got ${String(window)}`);
  if (maxBufferedBytes !== undefined && (typeof maxBufferedBytes !== 'number' || !(maxBufferedBytes >= 1))) {
    throw new TypeError(`subscribe(): maxBufferedBytes must be a number ≥ 1, got ${String(maxBufferedBytes)}`);
  }
}
