import { Deadlines } from './deadlines.js';
import { jsonEncoder, type FrameEncoder } from './encoder.js';
import { AbortError, AckTimeoutError, OutboxStoreError, PayloadTooLargeError, QueueFullError, type LifelineError } from './errors.js';
import { Fifo } from './fifo.js';
import type { Json } from './frames.js';
import { flatten, messageId } from './ids.js';
import { InFlight } from './in-flight.js';
import { IN_FLIGHT, Outgoing, QUEUED, SETTLED, WAITING, frameOversize, idUnitOf, type Rare } from './outgoing.js';
import type { PluginContext } from './plugin.js';
import type { SendOptions, SendQueueOptions } from './send-options.js';

/** `setTimeout` clamps longer delays to 1 ms: a longer deadline is none (the queue's end still settles it). */
const MAX_TIMER_MS = 2_147_483_647;

const ignore = (): void => {};

function isPromiseLike(value: unknown): value is PromiseLike<LifelineError | undefined> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === 'function';
}

/**
 * The send side both peers share (DESIGN.md guarantees 1, 4, 6): a message waits for room
 * (`overflow: 'wait'`), is *queued* (FIFO, never transmitted), then *in flight* (transmitted,
 * awaiting its answer, by seq) — tRPC's requestManager split — until the peer answers it or it
 * settles otherwise (deadline, abort, end). Seqs are taken at transmission, so a message
 * abandoned in the queue leaves no gap. Every deadline shares one timer (`Deadlines`). How the
 * peer answers is the subclass's part: per-message acks (the client's `Outbox`) or a cumulative
 * `cack` (the server's `Outbound`).
 */
export abstract class SendQueue {
  /** Most seqs awaited at once, counted from the oldest one (see `pump`). */
  protected window: number;
  /** The largest WebSocket message the peer accepts. */
  protected maxFrameBytes = Infinity;
  /** Next sequence number to take. */
  protected nextSeq = 1;
  protected readonly inFlight = new InFlight();
  private readonly queue = new Fifo<Outgoing>();
  private readonly waiting = new Fifo<Outgoing>();
  /** Seq of the next message this connection has not been sent; `nextSeq` once it has them all. */
  private resendSeq = 1;
  private queuedCount = 0;
  private queuedBytes = 0;
  private waitingCount = 0;
  private waitingBytes = 0;
  /** Settled messages still sitting in `queue` or `waiting` (removed lazily). */
  private garbage = 0;
  private unsettled = 0;
  /** Who awaits `settled()`; made at the first (an idle server session holds none). */
  private idle: Array<() => void> | undefined;
  /** Why a new send is refused, once the queue stopped taking them. */
  private refusal: (() => LifelineError) | undefined;
  /** Set by `end`: pending messages were failed, and the log keeps them. */
  private ended = false;
  private readonly deadlines: Deadlines<Outgoing>;
  /** Encodes payloads, ids and `msg` frames (the session's codec). */
  protected readonly codec: FrameEncoder<unknown>;
  private readonly maxInFlightBytes: number;
  /**
   * Accepted messages the log is still keeping (an asynchronous `add`): the queue transmits
   * nothing from the first of them on until it is kept. A set, not a field of `Outgoing`, so a
   * queue without such a log pays nothing per message; made at the first, since a Set with its
   * table is about 180 bytes that every idle server session held (issue 14).
   */
  private keeping: Set<Outgoing> | undefined;

  constructor(protected readonly options: SendQueueOptions) {
    this.window = options.window;
    this.codec = options.codec ?? jsonEncoder;
    this.maxInFlightBytes = options.maxInFlightBytes ?? Infinity;
    this.deadlines = options.deadlines ?? new Deadlines<Outgoing>((m) => this.expire(m), { now: options.now, inline: true });
  }

  /** A payload unit's size in this queue's codec (`Outgoing.bytes`). */
  sizeOf(unit: unknown): number {
    return this.codec.size(unit);
  }

  /** A message's answer deadline unless its `send()` chose one (`Outgoing.timeoutMs`). */
  get ackTimeoutMs(): number {
    return this.options.ackTimeoutMs;
  }

  /** The `msg` frame of `m`'s current transmission; a side may re-encode (the client's `Outbox`). */
  protected frameOf(m: Outgoing): unknown {
    return m.encode(this.codec);
  }

  /** Whether a frame may be written now (connected, and the socket below its high-water mark). */
  protected abstract writable(): boolean;
  /** Write one frame encoded by the queue's codec (through the connection's coalescing `FrameWriter`). */
  protected abstract write(frame: unknown): void;
  protected abstract context(): PluginContext;

  /** Messages whose `send()` has not settled: waiting, queued and in flight. */
  get pending(): number {
    return this.unsettled;
  }

  get queued(): number {
    return this.queuedCount;
  }

  /**
   * Highest seq below which the peer answered everything: one below the oldest seq still awaited
   * (a zombie the peer accepted is still awaited), or the last seq taken when none is. The
   * server's push mark and the client's `got` are both this.
   */
  get answeredThrough(): number {
    return (this.inFlight.oldest ?? this.nextSeq) - 1;
  }

  send(data: unknown, options: SendOptions | undefined): Promise<Json> {
    const o = this.options;
    if (this.refusal !== undefined) return this.rejected(this.refusal());
    const codec = this.codec;
    let unit: unknown;
    try {
      // Encoded once: every transmission embeds these bytes as they are.
      unit = codec.value(data);
    } catch (cause) {
      return this.rejected(new TypeError(`${o.what} cannot encode its data: ${(cause as Error).message}`, { cause }));
    }
    let id: string;
    if (options?.id === undefined) {
      id = messageId();
    } else {
      id = options.id;
      if (typeof id !== 'string' || id.length === 0 || id.length > 128) {
        return this.rejected(new TypeError(`${o.what} needs \`id\` to be a string of 1 to 128 characters`));
      }
    }
    const timeoutMs = options?.timeoutMs ?? o.ackTimeoutMs;
    if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) {
      return this.rejected(new TypeError(`${o.what} needs \`timeoutMs\` to be a non-negative number, got ${String(timeoutMs)}`));
    }
    const signal = options?.signal;
    const at = o.now();
    if (signal?.aborted) return this.refuse(id, new AbortError(`${o.what} of ${id} was aborted before it was queued`, { cause: signal.reason }), at);
    const bytes = codec.size(unit);
    // Larger than the queue's byte bound: it could never be queued without passing the bound.
    if (bytes > o.maxQueued.bytes) return this.refuse(id, new PayloadTooLargeError(bytes, o.maxQueued.bytes), at, 'payload-too-large');
    const idUnit = idUnitOf(codec, id);
    const tooBig = frameOversize(codec, unit, idUnit, this.maxFrameBytes, id);
    if (tooBig > 0) return this.refuse(id, new PayloadTooLargeError(tooBig, this.maxFrameBytes), at, 'payload-too-large');
    const fits = this.waitingCount === 0 && this.hasRoom(bytes);
    if (!fits) {
      if (o.overflow === 'reject') return this.refuse(id, new QueueFullError(`${o.what}: the send queue is full (maxQueued)`), at, 'queue-full');
      // Waiting senders hold their data too: unbounded, a peer that never answers makes 'wait'
      // buffer without limit (issue 9: 60,000 server pushes of 1 KB cost 115 MB).
      if (this.waitingCount >= o.maxWaiting.messages || this.waitingBytes + bytes > o.maxWaiting.bytes) {
        return this.refuse(id, new QueueFullError(`${o.what}: the send queue and its waiting list are full`), at, 'queue-full');
      }
    }
    let keeping: PromiseLike<LifelineError | undefined> | undefined;
    if (o.log !== undefined) {
      const refused = o.log.add(id, unit);
      if (isPromiseLike(refused)) keeping = refused;
      else if (refused !== undefined) return this.refuse(id, refused, at);
    }
    // Kept until the answer: a text unit as one flat string, not the pieces it was built from.
    if (typeof unit === 'string') unit = flatten(unit);
    const active = o.plugins.active;
    const ownTimeout = timeoutMs === o.ackTimeoutMs ? undefined : timeoutMs;
    const rare: Rare | undefined =
      active || signal !== undefined || o.handledRejections || ownTimeout !== undefined || idUnit !== undefined
        ? { signal, queuedAt: active ? at : undefined, timeoutMs: ownTimeout, idUnit }
        : undefined;
    const m = new Outgoing(this, id, unit, rare);
    // Only `resolve` is kept (see `Outgoing`); the executor's reject function is left to the GC.
    const promise = new Promise<Json>((resolve) => {
      m.resolve = resolve;
    });
    if (rare !== undefined && o.handledRejections) rare.promise = promise;
    this.accept(m, at);
    if (keeping !== undefined) this.keep(m, keeping);
    if (rare !== undefined && signal !== undefined) {
      const onAbort = (rare.onAbort = () => this.abort(m));
      signal.addEventListener('abort', onAbort, { once: true });
    }
    if (fits) {
      this.enqueue(m);
      this.pump(at);
    } else {
      m.stage = WAITING;
      this.waiting.push(m);
      this.waitingCount++;
      this.waitingBytes += bytes;
    }
    return promise;
  }

  /**
   * Write what the window and the socket allow: first what this connection has not been sent
   * (`retransmit`), then queued messages. `now`: the monotonic clock, if just read.
   *
   * The window bounds the span of seqs awaited, not only their count: a message may take seq
   * `s` only while `s < oldest awaited + window`. The server keeps the outcomes of the last
   * `win` seqs, so a client sending further ahead could push out of that cache the outcome of a
   * message it still waits for (chaos seed 88); the server's `cack` counts the same span.
   */
  pump(now?: number): void {
    if (!this.writable()) return;
    const o = this.options;
    const active = o.plugins.active;
    // The monotonic clock is read for plugins only (`sentAt`, `onTransmit`).
    const at = active ? (now ?? o.now()) : 0;
    // Sending only adds seqs above the oldest one awaited, so the limit holds for the whole call.
    const limit = (this.inFlight.oldest ?? this.nextSeq) + this.window;
    let wall = 0;
    if (this.resendSeq < this.nextSeq) {
      wall = o.wallClock();
      while (this.resendSeq < this.nextSeq) {
        const seq = this.resendSeq;
        const m = this.inFlight.get(seq);
        if (m !== undefined && (m.stage === IN_FLIGHT || o.retransmitSettled)) {
          if (seq >= limit) return;
          this.transmit(m, wall, at, active);
        }
        this.resendSeq = seq + 1;
        if (!this.writable()) return;
      }
    }
    if (this.nextSeq < limit && (this.queuedCount > 0 || this.waitingCount > 0)) {
      if (wall === 0) wall = o.wallClock();
      while (this.nextSeq < limit && this.writable()) {
        const m = this.queue.peek();
        if (m === undefined) {
          if (this.waitingCount > 0 && this.admit()) continue;
          break;
        }
        if (m.stage !== QUEUED) {
          this.queue.shift();
          this.garbage--;
          continue;
        }
        // Not kept yet: nothing behind it may pass it either (send order).
        if (this.keeping?.has(m) === true) break;
        // Bytes on the wire are bounded as their count is; one message always goes, whatever its size.
        if (this.inFlight.size > 0 && this.inFlight.bytes + m.bytes > this.maxInFlightBytes) break;
        this.queue.shift();
        this.queuedCount--;
        this.queuedBytes -= m.bytes;
        // The peer's frame limit may have been learnt (or lowered) since this was queued.
        const tooBig = frameOversize(this.codec, m.data, m.idUnit, this.maxFrameBytes, m.id);
        if (tooBig > 0) {
          this.settle(m);
          this.fail(m, new PayloadTooLargeError(tooBig, this.maxFrameBytes), 'payload-too-large');
          continue;
        }
        m.seq = this.nextSeq++;
        this.resendSeq = this.nextSeq;
        this.inFlight.add(m);
        this.transmit(m, wall, at, active);
      }
    }
    if (this.waitingCount > 0) this.admit();
  }

  /**
   * A new connection: every message in flight goes again (in seq order, same seq, id and bytes)
   * at the next `pump`, before anything new. Returns how many will.
   */
  retransmit(): number {
    const from = this.inFlight.oldest ?? this.nextSeq;
    this.resendSeq = from;
    if (this.options.retransmitSettled) return this.inFlight.size;
    let live = 0;
    for (let seq = from; seq < this.nextSeq; seq++) if (this.inFlight.get(seq)?.stage === IN_FLIGHT) live++;
    return live;
  }

  /** The peer answered `m` (taken out of flight by the subclass's ack rule) with `result`. `at`: when (0 without plugins). */
  protected answered(m: Outgoing, result: Json, at: number): void {
    this.settle(m);
    m.resolve(result);
    this.reportAck(m, undefined, at);
  }

  /** The peer answered `m` with a failure: the remote handler's `errorCode`, as `error`. */
  protected answeredWithError(m: Outgoing, error: LifelineError, errorCode: string, at: number): void {
    this.settle(m);
    if (m.promise !== undefined) m.promise.catch(ignore);
    m.reject(error);
    this.reportAck(m, errorCode, at);
  }

  /**
   * The peer forgot the sequence (a new session): messages in flight go back to the front of the
   * queue in their order, to be sent again under their ids with seqs from 1. Returns them.
   */
  protected restartSequence(): Outgoing[] {
    const unknown = this.inFlight.drain().filter((m) => m.live);
    this.nextSeq = 1;
    this.resendSeq = 1;
    this.requeueFront(unknown);
    return unknown;
  }

  /** A message the queue did not make itself (restored from a durable store), with its own callbacks. */
  protected adopt(id: string, data: unknown, resolve: (value: Json) => void, reject: (error: Error) => void, at: number): Outgoing {
    const o = this.options;
    const codec = this.codec;
    const m = new Outgoing(this, id, data, { queuedAt: o.plugins.active ? at : undefined, reject, idUnit: idUnitOf(codec, id) });
    m.resolve = resolve as (value: Json | PromiseLike<Json>) => void;
    this.accept(m, at);
    return m;
  }

  /** Put `messages` (in order) at the front of the queue, as never sent under the current sequence. They count against no bound: they were accepted before. */
  protected requeueFront(messages: readonly Outgoing[]): void {
    for (const m of messages) {
      m.stage = QUEUED;
      m.seq = 0;
      this.queuedCount++;
      this.queuedBytes += m.bytes;
    }
    this.queue.prepend(messages);
  }

  /** Resolves once every `send()` has settled. */
  settled(): Promise<void> {
    if (this.unsettled === 0) return Promise.resolve();
    return new Promise((resolve) => (this.idle ??= []).push(resolve));
  }

  /** Refuse new sends (closing started); those already accepted carry on. */
  refuseNew(refusal: () => LifelineError): void {
    this.refusal ??= refusal;
  }

  /** End for good: every pending message fails with `failure(m)`, new sends with `refusal()`. */
  end(failure: (m: Outgoing) => LifelineError, refusal: () => LifelineError): void {
    if (this.ended) return;
    this.ended = true;
    this.refusal = refusal;
    const pending = [...this.inFlight.drain(), ...this.queue.drain(), ...this.waiting.drain()];
    this.queuedCount = this.queuedBytes = this.waitingCount = this.waitingBytes = this.garbage = 0;
    this.resendSeq = this.nextSeq;
    for (const m of pending) {
      if (!m.live) continue;
      this.settle(m);
      this.fail(m, failure(m));
    }
    if (this.options.deadlines === undefined) this.deadlines.clear();
  }

  /** `m`'s deadline passed (called by the `Deadlines`). */
  expire(m: Outgoing): void {
    if (m.live) this.drop(m, new AckTimeoutError(m.id, m.transmitted, m.timeoutMs));
  }

  private abort(m: Outgoing): void {
    if (m.live) this.drop(m, new AbortError(`${this.options.what} of ${m.id} was aborted`, { cause: m.signal?.reason, maybeDelivered: m.transmitted }));
  }

  /** Settle `m` before its answer, out of wherever it is; one in flight stays there as a zombie, holding its seq. */
  private drop(m: Outgoing, error: LifelineError, kept = true): void {
    const stage = m.stage;
    this.settle(m, kept);
    if (stage === QUEUED) {
      this.queuedCount--;
      this.queuedBytes -= m.bytes;
      this.garbage++;
    } else if (stage === WAITING) {
      this.waitingCount--;
      this.waitingBytes -= m.bytes;
      this.garbage++;
    }
    this.fail(m, error);
    if (stage === QUEUED && this.waitingCount > 0) this.admit();
    if (this.garbage > 1024 && this.garbage * 2 > this.queue.length + this.waiting.length) {
      const live = (x: Outgoing) => x.live;
      this.queue.retain(live);
      this.waiting.retain(live);
      this.garbage = 0;
    }
  }

  /** A new message is pending from `at`: counted, given its deadline, reported to plugins. */
  private accept(m: Outgoing, at: number): void {
    this.unsettled++;
    if (m.timeoutMs <= MAX_TIMER_MS) this.deadlines.add(m, at + m.timeoutMs);
    const { plugins } = this.options;
    if (plugins.active) plugins.onSend({ id: m.id, bytes: m.bytes, at }, this.context());
  }

  private enqueue(m: Outgoing): void {
    m.stage = QUEUED;
    this.queue.push(m);
    this.queuedCount++;
    this.queuedBytes += m.bytes;
  }

  private hasRoom(bytes: number): boolean {
    const bound = this.options.maxQueued;
    return this.queuedCount < bound.messages && this.queuedBytes + bytes <= bound.bytes;
  }

  /** Move waiting senders into the queue, in order, while there is room. True when one moved. */
  private admit(): boolean {
    let admitted = false;
    for (let m = this.waiting.peek(); m !== undefined; m = this.waiting.peek()) {
      if (m.stage === SETTLED) {
        this.waiting.shift();
        this.garbage--;
        continue;
      }
      if (!this.hasRoom(m.bytes)) break;
      this.waiting.shift();
      this.waitingCount--;
      this.waitingBytes -= m.bytes;
      this.enqueue(m);
      admitted = true;
    }
    return admitted;
  }

  /** `m` is transmitted only once the log has kept it; refused, it fails as if `send()` had refused it. */
  private keep(m: Outgoing, keeping: PromiseLike<LifelineError | undefined>): void {
    const set = (this.keeping ??= new Set());
    set.add(m);
    const kept = (refused: LifelineError | undefined): void => {
      set.delete(m);
      if (!m.live) return;
      if (refused === undefined) {
        this.pump();
        return;
      }
      // Nothing was kept, so there is nothing for the log to forget.
      this.drop(m, refused, false);
    };
    keeping.then(kept, (cause: unknown) => kept(new OutboxStoreError(`${this.options.what} could not keep message ${m.id}`, { cause })));
  }

  /** Write `m` under its seq; `wall` and `at` (0 without plugins) as read once per `pump`. */
  private transmit(m: Outgoing, wall: number, at: number, active: boolean): void {
    const retransmit = m.transmitted;
    if (!retransmit) m.firstSent(wall, active ? at : undefined);
    // A zombie retransmitted to fetch its answer stays settled and is not reported to plugins:
    // its send() already failed.
    const zombie = m.stage === SETTLED;
    if (!zombie) m.stage = IN_FLIGHT;
    this.write(this.frameOf(m));
    if (active && !zombie) {
      this.options.plugins.onTransmit({ id: m.id, seq: m.seq, queuedAt: m.queuedAt ?? at, at, retransmit }, this.context());
    }
  }

  /** `m` settled; `kept`: whether the log holds it (and must now forget it). */
  private settle(m: Outgoing, kept = true): void {
    m.stage = SETTLED;
    // The queue's end is not an outcome: a durable log keeps the message for the next run.
    if (!this.ended && kept) this.options.log?.remove(m.id);
    this.deadlines.delete(m);
    const rare = m.rare;
    if (rare?.onAbort !== undefined) {
      rare.signal?.removeEventListener('abort', rare.onAbort);
      rare.onAbort = undefined;
    }
    if (--this.unsettled === 0 && this.idle !== undefined) {
      const idle = this.idle;
      this.idle = undefined;
      for (const resolve of idle) resolve();
    }
  }

  /** Reject a settled `m` with `error` and tell the plugins. */
  private fail(m: Outgoing, error: LifelineError, drop?: 'payload-too-large'): void {
    this.reportFail(m.id, error, m.transmitted, drop, this.options.plugins.active ? this.options.now() : 0);
    if (m.promise !== undefined) m.promise.catch(ignore);
    m.reject(error);
  }

  /** A send refused before it was queued: nothing was accepted, so nothing may have been delivered. */
  private refuse(id: string, error: LifelineError, at: number, drop?: 'queue-full' | 'payload-too-large'): Promise<never> {
    this.reportFail(id, error, false, drop, at);
    return this.rejected(error);
  }

  private rejected(error: Error): Promise<never> {
    const promise = Promise.reject(error);
    if (this.options.handledRejections) promise.catch(ignore);
    return promise;
  }

  private reportAck(m: Outgoing, errorCode: string | undefined, at: number): void {
    const { plugins } = this.options;
    if (!plugins.active) return;
    // With plugins (fixed at construction) `queuedAt` and `sentAt` are always set; `??` is for the types.
    const queuedAt = m.queuedAt ?? at;
    const sentAt = m.sentAt ?? at;
    plugins.onAck(
      errorCode === undefined ? { id: m.id, seq: m.seq, queuedAt, sentAt, at } : { id: m.id, seq: m.seq, queuedAt, sentAt, at, errorCode },
      this.context(),
    );
  }

  private reportFail(id: string, error: LifelineError, maybeDelivered: boolean, drop: 'queue-full' | 'payload-too-large' | undefined, at: number): void {
    const { plugins } = this.options;
    if (!plugins.active) return;
    const ctx = this.context();
    if (drop !== undefined) plugins.onDrop({ reason: drop, count: 1, at }, ctx);
    plugins.onFail({ id, code: error.code, maybeDelivered, at }, ctx);
  }
}
