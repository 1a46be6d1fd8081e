import { EventEmitter } from 'eventemitter3';
import {
  ClosedError,
  LifelineError,
  RemoteError,
  UnauthorizedError,
  type ChannelMember,
  type ErrorCode,
  type GapFrame,
  type Json,
  type PubFrame,
  type StreamPosition,
  type SubErrFrame,
  type SubOkFrame,
} from '@lifeline/protocol';
import { Fifo } from '@lifeline/protocol/internal';
import { withDeadline } from './wait.js';
import {
  subscriptionDefaults,
  type GapInfo,
  type PresenceOptions,
  type Publication,
  type PublicationMeta,
  type ReadyOptions,
  type SubscribeOptions,
  type SubscriptionEvents,
  type SubscriptionHost,
} from './subscription-options.js';

export { subscriptionDefaults };
export type { GapInfo, PresenceOptions, Publication, PublicationMeta, ReadyOptions, SubscribeOptions, SubscriptionEvents, SubscriptionHost };

type Entry = { readonly kind: 'pub'; readonly data: Json; readonly meta: PublicationMeta; readonly bytes: number } | { readonly kind: 'gap'; readonly info: GapInfo; readonly epoch: string };

interface Waiter {
  resolve(result: IteratorResult<Publication>): void;
}

/**
 * One channel subscription of a client (DESIGN.md "Channels", guarantee 9): the position
 * (`{ offset, epoch }` of the last publication the application took), in-order delivery to
 * listeners or to `publications()`, a bounded hold for what nobody took yet, and the cumulative
 * `pack` of what was taken, which is what lets the server send more (backpressure end to end).
 */
export class Subscription extends EventEmitter<SubscriptionEvents> {
  readonly channel: string;
  /** Last publication received (or gap end): what `sub.since` says after a reconnect. */
  private received: StreamPosition | undefined;
  /** Last publication taken by the application (or gap end): the public `position`. */
  private taken: StreamPosition | undefined;
  /** Offset announced in the last `pack` (in `packedEpoch`). */
  private packed = 0;
  private packedEpoch: string | undefined;
  /** `subok` came on the current connection: channel frames are for this subscription. */
  private live = false;
  /** The `sub` went out on the current connection and no answer came yet. */
  private asked = false;
  /** A `sub` went out on some connection: the server may hold presence for it. */
  everSent = false;
  private target: StreamPosition | undefined;
  private isReady = false;
  private readyPromise: Promise<void>;
  private settleReady!: { resolve(): void; reject(error: Error): void };
  private failure: Error | undefined;
  private done = false;
  private readonly held = new Fifo<Entry>();
  private heldBytes = 0;
  /** Over the byte bound: publications of this connection are ignored until we subscribe again. */
  private skipping = false;
  private waiters: Waiter[] = [];
  private presenceWaiters: Array<{ resolve(members: ChannelMember[]): void; reject(error: Error): void }> = [];
  private presenceAsked = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retries = 0;
  private readonly window: number;
  /** Publications taken but not yet packed after which the pack goes at the next flush: half the window the server applies. */
  private packEvery: number;
  private readonly maxBytes: number;

  constructor(
    private readonly host: SubscriptionHost,
    channel: string,
    options: SubscribeOptions,
  ) {
    super();
    this.channel = channel;
    this.window = options.window ?? subscriptionDefaults.window;
    this.packEvery = Math.max(1, this.window >> 1);
    this.maxBytes = options.maxBufferedBytes ?? subscriptionDefaults.maxBufferedBytes;
    if (options.since !== undefined) {
      this.received = { offset: options.since.offset, epoch: options.since.epoch };
      this.taken = this.received;
    }
    this.readyPromise = new Promise<void>((resolve, reject) => {
      this.settleReady = { resolve, reject };
    });
    this.readyPromise.catch(() => {});
  }

  /** `{ offset, epoch }` of the last publication the application took: persist it to resume later. */
  get position(): StreamPosition | undefined {
    return this.taken;
  }

  /** Publications held for `publications()` that the application has not taken. */
  get buffered(): number {
    return this.held.length;
  }

  get active(): boolean {
    return !this.done;
  }

  /**
   * Resolves once the server accepted the subscription and everything up to the channel's offset
   * at that moment has arrived (what was missed since `since` included): caught up to live.
   * Rejects with `UnauthorizedError` (`authorize` said no), `LifelineError` (`ERR_CHANNEL_LIMIT`,
   * `ERR_ALREADY_SUBSCRIBED`), `RemoteError` (another refusal), `ClosedError` (unsubscribed, or
   * the client closed), `TimeoutError` or `AbortError`.
   */
  ready(options: ReadyOptions = {}): Promise<void> {
    if (this.isReady) return Promise.resolve();
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return withDeadline(this.readyPromise, {
      timeoutMs: options.timeoutMs ?? subscriptionDefaults.readyTimeoutMs,
      signal: options.signal,
      what: `ready() of ${this.channel}`,
      cancel: () => {},
    });
  }

  /** Publications as an async iterator, `{ data, meta }`; it ends on `unsubscribe()` or when the client closes. */
  publications(): AsyncIterableIterator<Publication> {
    let finished = false;
    let mine: Waiter | undefined;
    const iterator: AsyncIterableIterator<Publication> = {
      next: () => {
        if (finished) return Promise.resolve({ done: true, value: undefined });
        const p = this.takeHeld();
        if (p !== undefined) return Promise.resolve({ done: false, value: p });
        if (this.done) {
          finished = true;
          return Promise.resolve({ done: true, value: undefined });
        }
        return new Promise((resolve) => {
          mine = {
            resolve: (result) => {
              mine = undefined;
              if (result.done === true) finished = true;
              resolve(result);
            },
          };
          this.waiters.push(mine);
        });
      },
      return: () => {
        finished = true;
        if (mine !== undefined) {
          const i = this.waiters.indexOf(mine);
          if (i >= 0) this.waiters.splice(i, 1);
          mine.resolve({ done: true, value: undefined });
        }
        return Promise.resolve({ done: true, value: undefined });
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /** Who is subscribed to the channel now (the server's list). Rejects with `TimeoutError`, `AbortError`, `ClosedError`. */
  presence(options: PresenceOptions = {}): Promise<ChannelMember[]> {
    if (this.done) return Promise.reject(new ClosedError(`the subscription to ${this.channel} has ended`));
    let waiter!: { resolve(members: ChannelMember[]): void; reject(error: Error): void };
    const promise = new Promise<ChannelMember[]>((resolve, reject) => {
      waiter = { resolve, reject };
    });
    this.presenceWaiters.push(waiter);
    this.askPresence();
    return withDeadline(promise, {
      timeoutMs: options.timeoutMs ?? subscriptionDefaults.presenceTimeoutMs,
      signal: options.signal,
      what: `presence() of ${this.channel}`,
      cancel: () => {
        const i = this.presenceWaiters.indexOf(waiter);
        if (i >= 0) this.presenceWaiters.splice(i, 1);
      },
    });
  }

  /** End the subscription: `unsub` now, or after the next reconnect when offline; iterators end. Idempotent. */
  unsubscribe(): Promise<void> {
    this.end(new ClosedError(`unsubscribed from ${this.channel}`), true);
    return Promise.resolve();
  }

  override on<T extends EventEmitter.EventNames<SubscriptionEvents>>(event: T, fn: EventEmitter.EventListener<SubscriptionEvents, T>, context?: unknown): this {
    super.on(event, fn, context);
    if (event === 'publication') queueMicrotask(this.drain);
    return this;
  }

  override addListener<T extends EventEmitter.EventNames<SubscriptionEvents>>(event: T, fn: EventEmitter.EventListener<SubscriptionEvents, T>, context?: unknown): this {
    return this.on(event, fn, context);
  }

  override once<T extends EventEmitter.EventNames<SubscriptionEvents>>(event: T, fn: EventEmitter.EventListener<SubscriptionEvents, T>, context?: unknown): this {
    super.once(event, fn, context);
    if (event === 'publication') queueMicrotask(this.drain);
    return this;
  }

  // ---- driven by the registry ----------------------------------------------------------------

  /** A connection opened: subscribe again from where we are (the server authorizes again). */
  connected(): void {
    this.live = false;
    this.asked = false;
    this.presenceAsked = false;
    this.skipping = false;
    this.clearRetry();
    if (!this.done) this.subscribeNow();
  }

  /** The connection went down: nothing of this subscription is on the way any more. */
  disconnected(): void {
    this.live = false;
    this.asked = false;
    this.presenceAsked = false;
  }

  subok(f: SubOkFrame): void {
    if (!this.asked) return;
    this.asked = false;
    this.live = true;
    this.retries = 0;
    this.target = { offset: f.offset, epoch: f.epoch };
    // The server may cap the window below ours (its `channels.window`): it stops there, so the
    // pack must go before half of its window, not ours, or every cap would wait for the timer.
    this.packEvery = Math.max(1, Math.min(this.window, f.win ?? this.window) >> 1);
    // A fresh subscription starts at the subscribe point.
    if (this.received === undefined) {
      this.received = this.target;
      if (this.taken === undefined) this.taken = this.target;
    }
    this.checkReady();
    if (this.presenceWaiters.length > 0) this.askPresence();
  }

  suberr(f: SubErrFrame): void {
    if (f.code === 'ERR_ALREADY_SUBSCRIBED' && this.live) return; // the existing subscription goes on
    this.asked = false;
    this.live = false;
    if (f.code === 'ERR_CHANNEL_UNAVAILABLE') {
      this.scheduleRetry();
      return;
    }
    const error = refusal(f);
    this.end(error, false);
    this.emitSafely('error', error);
  }

  pub(f: PubFrame): void {
    if (!this.live || this.done) return;
    const r = this.received;
    if (r !== undefined && r.epoch === f.epoch && f.offset <= r.offset) return; // already had it
    if (this.skipping) return;
    const meta: PublicationMeta = { channel: this.channel, offset: f.offset, epoch: f.epoch, publishedAt: f.ts, id: f.id };
    if (this.held.length === 0 && this.handOut(f.d, meta)) {
      // Positions are never changed in place: the one `markTaken` just made is this one too.
      this.received = this.taken;
    } else {
      const bytes = jsonLength(f.d);
      if (this.held.length > 0 && (this.heldBytes + bytes > this.maxBytes || this.held.length >= this.window)) {
        // Not held, not acknowledged: the server keeps it in the history; we subscribe again later.
        this.skipping = true;
        return;
      }
      this.received = { offset: f.offset, epoch: f.epoch };
      this.held.push({ kind: 'pub', data: f.d, meta, bytes });
      this.heldBytes += bytes;
    }
    this.checkReady();
  }

  gap(f: GapFrame): void {
    if (!this.live || this.done || this.skipping) return;
    this.received = { offset: f.to, epoch: f.epoch };
    const info: GapInfo = { channel: this.channel, from: f.from, to: f.to, reason: f.reason };
    if (this.held.length === 0) this.passGap(info, f.epoch);
    else this.held.push({ kind: 'gap', info, epoch: f.epoch });
    this.checkReady();
  }

  member(kind: 'join' | 'leave', member: ChannelMember): void {
    if (!this.live || this.done) return;
    this.emitSafely(kind, member);
  }

  members(members: readonly ChannelMember[]): void {
    if (this.done) return;
    this.presenceAsked = false;
    const waiters = this.presenceWaiters;
    this.presenceWaiters = [];
    for (const w of waiters) w.resolve([...members]);
  }

  /** The `pack.offset` due, if any; taking it marks it sent. */
  takePack(): number | undefined {
    const t = this.taken;
    if (!this.live || t === undefined) return undefined;
    if (t.epoch === this.packedEpoch && t.offset <= this.packed) return undefined;
    this.packed = t.offset;
    this.packedEpoch = t.epoch;
    return t.offset;
  }

  /** The client closed, or the registry ends it. */
  end(error: Error, unsubscribe: boolean): void {
    if (this.done) return;
    this.done = true;
    this.live = false;
    this.clearRetry();
    this.failure = error;
    if (!this.isReady) this.settleReady.reject(error);
    this.held.clear();
    this.heldBytes = 0;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.resolve({ done: true, value: undefined });
    const presence = this.presenceWaiters;
    this.presenceWaiters = [];
    for (const p of presence) p.reject(error);
    this.host.ended(this, unsubscribe);
  }

  // ---- inside ----------------------------------------------------------------------------------

  private subscribeNow(): void {
    if (this.done || !this.host.isOpen()) return;
    this.asked = true;
    this.everSent = true;
    // What is still held counts against the window the server gives this connection.
    const win = Math.max(1, this.window - this.held.length);
    this.host.sendSub(this, this.received, win);
  }

  private askPresence(): void {
    if (this.presenceAsked || !this.live) return;
    this.presenceAsked = true;
    this.host.sendPresence(this.channel);
  }

  private scheduleRetry(): void {
    this.clearRetry();
    const delay = this.host.retryDelay(this.retries++);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.asked && !this.live) this.subscribeNow();
    }, delay);
  }

  private clearRetry(): void {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private checkReady(): void {
    if (this.isReady || this.done) return;
    const t = this.target;
    const r = this.received;
    if (t === undefined || r === undefined) return;
    if (r.epoch !== t.epoch || r.offset < t.offset) return;
    this.isReady = true;
    this.settleReady.resolve();
  }

  private readonly drain = (): void => {
    while (this.held.length > 0 && (this.waiters.length > 0 || this.listenerCount('publication') > 0)) {
      const e = this.held.shift() as Entry;
      if (e.kind === 'gap') {
        this.passGap(e.info, e.epoch);
        continue;
      }
      this.heldBytes -= e.bytes;
      this.handOut(e.data, e.meta);
    }
    this.passHeadGaps();
    this.maybeRefetch();
  };

  /** For the iterator: the next held publication, taken. */
  private takeHeld(): Publication | undefined {
    this.passHeadGaps();
    if (this.held.length === 0) return undefined;
    const e = this.held.shift() as Entry & { kind: 'pub' };
    this.heldBytes -= e.bytes;
    this.markTaken(e.meta.offset, e.meta.epoch);
    this.passHeadGaps();
    this.maybeRefetch();
    return { data: e.data, meta: e.meta };
  }

  private passHeadGaps(): void {
    while (this.held.length > 0) {
      const head = this.held.peek() as Entry;
      if (head.kind !== 'gap') return;
      this.held.shift();
      this.passGap(head.info, head.epoch);
    }
  }

  /** Half the bound free again after skipping: subscribe again from what we received (unsub, then sub). */
  private maybeRefetch(): void {
    if (!this.skipping || !this.live) return;
    if (this.heldBytes > this.maxBytes / 2 || this.held.length > this.window / 2) return;
    this.skipping = false;
    this.live = false;
    this.host.sendUnsub(this.channel);
    this.subscribeNow();
  }

  private passGap(info: GapInfo, epoch: string): void {
    this.taken = { offset: info.to, epoch };
    this.emitSafely('gap', info);
  }

  /** Give a publication to listeners and the first iterator waiting; false when nobody takes it. */
  private handOut(data: Json, meta: PublicationMeta): boolean {
    let taken = false;
    if (this.listenerCount('publication') > 0) {
      taken = true;
      // Not `emitSafely`: its rest parameter is an array per call, and this runs per delivery.
      try {
        this.emit('publication', data, meta);
      } catch (error) {
        this.host.listenerError(error);
      }
    }
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      taken = true;
      waiter.resolve({ done: false, value: { data, meta } });
    }
    if (taken) this.markTaken(meta.offset, meta.epoch);
    return taken;
  }

  private markTaken(offset: number, epoch: string): void {
    this.taken = { offset, epoch };
    // The pack is only flow control (a new connection subscribes from `received`), so it can wait
    // until half the window is used: the server still has the other half to send meanwhile.
    this.host.packDue(this, epoch !== this.packedEpoch || offset - this.packed >= this.packEvery);
  }

  private emitSafely<E extends EventEmitter.EventNames<SubscriptionEvents>>(event: E, ...args: EventEmitter.EventArgs<SubscriptionEvents, E>): void {
    try {
      this.emit(event, ...args);
    } catch (error) {
      // A throwing listener must not break delivery to the rest.
      this.host.listenerError(error);
    }
  }
}

const knownCodes = new Set<string>(['ERR_CHANNEL_LIMIT', 'ERR_ALREADY_SUBSCRIBED']);

function refusal(f: SubErrFrame): LifelineError {
  if (f.code === 'ERR_UNAUTHORIZED') return new UnauthorizedError(`subscription to ${f.ch} refused: ${f.message}`);
  if (knownCodes.has(f.code)) return new LifelineError(f.code as ErrorCode, `subscription to ${f.ch} refused: ${f.message}`);
  return new RemoteError(f.code, `subscription to ${f.ch} refused: ${f.message}`);
}

function jsonLength(data: Json): number {
  return data === undefined ? 0 : JSON.stringify(data).length;
}
