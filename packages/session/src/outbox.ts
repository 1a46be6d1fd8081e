import {
  AckTimeoutError,
  ClosedError,
  Deadlines,
  PayloadTooLargeError,
  QueueFullError,
  RemoteError,
  RESULT_EVICTED,
  ResultEvictedError,
  encodeMsg,
  flatten,
  messageId,
  type DeadlineSlot,
  type ErrorCode,
  type Json,
  type LifelineError,
  type PluginContext,
  type PluginHost,
  type RemoteErrorInfo,
} from '@lifeline/protocol';
import type { OverflowPolicy } from './options.js';
import type { StoreLink, StoredMessage } from './outbox-store.js';
import { abortError } from './wait.js';

export interface SendOptions {
  /** Deadline of this send: acked, or rejected with `AckTimeoutError`, by then. @default ackTimeoutMs */
  timeoutMs?: number;
  /** Aborting rejects with `AbortError` (`maybeDelivered` set) and drops the message. */
  signal?: AbortSignal;
  /** Message id (1–128 characters), kept across retransmissions and session-lost re-sends. @default a random 21-character id (nanoid's alphabet) */
  id?: string;
}

/** Where a message is in its life. */
const WAITING = 0; // `overflow: 'wait'`: waiting for room in the queue
const QUEUED = 1; // in the queue, never transmitted, or moved back after a session was lost
const IN_FLIGHT = 2; // transmitted, awaiting its ack
const DONE = 3; // settled; an in-flight DONE message is a zombie holding its window slot until acked

/** `Outgoing.ts` is kept relative to this, so it stays a small integer (see below). */
const WALL_BASE = Date.now();

/**
 * One `send()`, from the call to its ack. A class so every message has the same shape. It keeps
 * the payload's JSON, not the encoded frame: a retransmission rebuilds the envelope (same seq,
 * id, ts and payload bytes), so a message waiting for its ack costs its payload and little more.
 *
 * V8 gives a number field that ever held a non-integer (or an integer past 2^31) a heap number
 * box of its own in every instance, 16 bytes each, set or not. So the time fields start out
 * `undefined` (such a field holds any value as is, no box), the wall clock is stored relative to
 * `WALL_BASE` (a small integer), and the monotonic times only plugins read (`queuedAt`,
 * `sentAt`) are left unset when there are none.
 */
export class Outgoing implements DeadlineSlot {
  seq = 0;
  /** Wall clock at first transmission (`msg.ts`) minus `WALL_BASE`; unset until then. */
  ts: number | undefined = undefined;
  /** Monotonic time of first transmission (unset without plugins). */
  sentAt: number | undefined = undefined;
  /** Left this machine at least once: `maybeDelivered`. */
  transmitted = false;
  status = WAITING;
  onAbort: (() => void) | undefined = undefined;
  deadlineKey: number | undefined = undefined;
  deadlineIndex = 0;

  constructor(
    readonly id: string,
    /** `id` as JSON when it needs escaping; `undefined` when quoting it is enough. */
    readonly idJson: string | undefined,
    readonly dataJson: string,
    readonly timeoutMs: number,
    /** Monotonic time of the `send()` call (unset without plugins). */
    readonly queuedAt: number | undefined,
    readonly resolve: (value: Json) => void,
    readonly reject: (error: Error) => void,
    readonly signal: AbortSignal | undefined,
  ) {}

  get live(): boolean {
    return this.status !== DONE;
  }

  /** The `msg` frame for the current transmission. */
  encode(): string {
    return encodeMsg(this.seq, this.idJson ?? `"${this.id}"`, WALL_BASE + (this.ts as number), this.dataJson);
  }
}

/** JSON for a caller's id, or `undefined` when it needs no escaping (quoting it is its JSON). */
function idJsonOf(id: string): string | undefined {
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || c > 0x7e) return JSON.stringify(id);
  }
  return undefined;
}

export interface OutboxConfig {
  ackTimeoutMs: number;
  maxInFlight: number;
  maxQueuedMessages: number;
  maxQueuedBytes: number;
  overflow: OverflowPolicy;
  now: () => number;
  /** Write one encoded frame (through the coalescing FrameWriter). */
  push: (frame: string) => void;
  /** Transport backpressure: false stops the pump until 'drain'. */
  writable: () => boolean;
  plugins: PluginHost;
  ctx: () => PluginContext;
  /** The durable outbox, when one is configured (`outbox` option). */
  store: StoreLink | undefined;
}

/** `{"t":"msg","seq":,"id":,"ts":,"d":}` plus digits: an upper bound on a frame's envelope. */
const ENVELOPE = 64;

/**
 * The client's send side (DESIGN.md guarantees 1, 4, 6): *queued* messages (FIFO, not yet
 * transmitted) apart from *in flight* ones (transmitted, awaiting ack, by seq) — tRPC's
 * requestManager split. Sequence numbers are taken at first transmission, so a message abandoned
 * in the queue never leaves a gap. Every deadline shares one timer (protocol `Deadlines`).
 */
export class Outbox {
  /** Effective window: min(maxInFlight, welcome.win). */
  window: number;
  /** `welcome.max`: the largest WebSocket message the server accepts. */
  maxFrameBytes = Infinity;
  /** True while a connection is established: the pump transmits only then. */
  online = false;
  /** Next sequence number to take. */
  nextSeq = 1;
  /** In flight by seq; Map order is seq order (seqs are taken in increasing order). */
  readonly inFlight = new Map<number, Outgoing>();
  private queue: Array<Outgoing | undefined> = [];
  private head = 0;
  private queuedCount = 0;
  private queuedBytes = 0;
  private waiting: Array<Outgoing | undefined> = [];
  private waitHead = 0;
  /** Messages not yet settled. */
  private unsettled = 0;
  private idle: Array<() => void> = [];
  private closed: ((m: Outgoing) => LifelineError) | undefined;
  private accepting = true;
  private readonly deadlines: Deadlines<Outgoing>;

  constructor(private readonly config: OutboxConfig) {
    this.window = config.maxInFlight;
    this.deadlines = new Deadlines<Outgoing>((m) => this.expire(m), { now: config.now, inline: true });
  }

  /** Messages whose `send()` has not settled: waiting, queued and in flight. */
  get pending(): number {
    return this.unsettled;
  }

  get queued(): number {
    return this.queuedCount;
  }

  /** Stop taking new messages (`close()` started); those already accepted carry on. */
  refuseNew(): void {
    this.accepting = false;
  }

  send(data: unknown, options: SendOptions | undefined): Promise<Json> {
    if (this.closed || !this.accepting) return Promise.reject(new ClosedError('the client is closed'));
    let dataJson: string | undefined;
    try {
      dataJson = JSON.stringify(data);
    } catch (cause) {
      return Promise.reject(new TypeError(`send() needs JSON-serialisable data: ${(cause as Error).message}`, { cause }));
    }
    if (dataJson === undefined) return Promise.reject(new TypeError('send() needs JSON-serialisable data, got ' + typeof data));
    const cfg = this.config;
    let id: string;
    let idJson: string | undefined;
    if (options?.id === undefined) {
      id = messageId(); // its alphabet needs no escaping
    } else {
      id = options.id;
      if (typeof id !== 'string' || id.length === 0 || id.length > 128) {
        return Promise.reject(new TypeError('Expected `id` to be a string of 1 to 128 characters'));
      }
      idJson = idJsonOf(id);
    }
    const timeoutMs = options?.timeoutMs ?? cfg.ackTimeoutMs;
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) {
      return Promise.reject(new TypeError(`Expected \`timeoutMs\` to be a positive number, got ${String(timeoutMs)}`));
    }
    const signal = options?.signal;
    const at = cfg.now();
    if (signal?.aborted) return this.refuse(id, abortError('send()', signal), at);
    const tooBig = this.oversize(dataJson, id, idJson);
    if (tooBig > 0) return this.refuse(id, new PayloadTooLargeError(tooBig, this.maxFrameBytes), at, 'payload-too-large');
    const full = this.waitHead < this.waiting.length || !this.hasRoom(dataJson.length);
    if (full && cfg.overflow === 'reject') return this.refuse(id, new QueueFullError(), at, 'queue-full');
    if (cfg.store !== undefined) {
      const refused = cfg.store.add(id, dataJson);
      if (refused !== undefined) return this.refuse(id, refused, at);
    }

    let resolve!: (value: Json) => void;
    let reject!: (error: Error) => void;
    const promise = new Promise<Json>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Kept until the ack: one flat string, not the pieces JSON.stringify built it from.
    const m = new Outgoing(id, idJson, flatten(dataJson), timeoutMs, cfg.plugins.active ? at : undefined, resolve, reject, signal);
    this.accept(m, at);
    if (signal !== undefined) {
      m.onAbort = () => this.settleFailed(m, abortError('send()', signal, m.transmitted));
      signal.addEventListener('abort', m.onAbort, { once: true });
    }
    if (full) {
      m.status = WAITING;
      this.waiting.push(m);
    } else {
      this.enqueue(m);
      if (this.online) this.pump(at);
    }
    return promise;
  }

  /** Transmit queued messages while the window and the socket have room. `now`: the monotonic clock, if just read. */
  pump(now?: number): void {
    if (!this.online) return;
    // Sending only adds seqs above the oldest one awaited, so the bound holds for the whole loop.
    const limit = this.seqLimit();
    if (this.queuedCount > 0 && this.nextSeq < limit) {
      const cfg = this.config;
      const wall = Date.now();
      // The monotonic clock is read for plugins only (`sentAt`, `onTransmit`).
      const at = cfg.plugins.active ? (now ?? cfg.now()) : 0;
      while (this.nextSeq < limit && this.head < this.queue.length && cfg.writable()) {
        const m = this.queue[this.head] as Outgoing;
        if (m.status !== QUEUED) {
          this.queue[this.head++] = undefined;
          continue;
        }
        const tooBig = this.oversize(m.dataJson, m.id, m.idJson);
        if (tooBig > 0) {
          this.settleFailed(m, new PayloadTooLargeError(tooBig, this.maxFrameBytes), 'payload-too-large');
          continue;
        }
        this.queue[this.head++] = undefined;
        this.queuedCount--;
        this.queuedBytes -= m.dataJson.length;
        this.transmit(m, wall, at);
        if (this.waitHead < this.waiting.length) this.admit();
      }
    }
    this.compact();
    if (this.waitHead < this.waiting.length) this.admit();
  }

  /** Write `m` (taking a seq on its first transmission after a (re)start of the sequence). */
  transmit(m: Outgoing, wall: number, at: number): void {
    if (m.seq === 0) {
      m.seq = this.nextSeq++;
      if (!m.transmitted) m.ts = wall - WALL_BASE;
    }
    const retransmit = m.transmitted;
    const { plugins } = this.config;
    if (!retransmit) {
      m.transmitted = true;
      if (plugins.active) m.sentAt = at;
    }
    // A zombie (DONE) retransmitted after a resume stays DONE and is not reported to plugins: its
    // send() already failed; it only fetches its ack to free its window slot.
    const zombie = m.status === DONE;
    if (!zombie) m.status = IN_FLIGHT;
    this.inFlight.set(m.seq, m);
    this.config.push(m.encode());
    if (plugins.active && !zombie) plugins.onTransmit({ id: m.id, seq: m.seq, queuedAt: m.queuedAt ?? at, at, retransmit }, this.config.ctx());
  }

  /**
   * An `ack` with a result, or one entry of an `acks` run. Duplicate and late acks are ignored.
   * `at`: when the frame arrived, for plugins (read once for a whole run; 0 without plugins).
   */
  ack(seq: number, result: Json, at: number): void {
    const m = this.inFlight.get(seq);
    if (m === undefined) return;
    this.inFlight.delete(seq);
    if (m.status !== IN_FLIGHT) return; // a zombie: its send() already timed out
    this.settle(m);
    m.resolve(result);
    this.acked(m, undefined, at);
  }

  /**
   * An `ack` with an error: the remote handler threw, or (`ERR_RESULT_EVICTED`) the message was
   * processed earlier and its result is gone, which an app must not read as a failure. `at` as for `ack`.
   */
  nack(seq: number, error: RemoteErrorInfo, at: number): void {
    const m = this.inFlight.get(seq);
    if (m === undefined) return;
    this.inFlight.delete(seq);
    if (m.status !== IN_FLIGHT) return;
    this.settle(m);
    m.reject(error.code === RESULT_EVICTED ? new ResultEvictedError(error.message) : new RemoteError(error.code, error.message));
    this.acked(m, error.code, at);
  }

  /**
   * Messages an earlier run left in the durable outbox: queued ahead of everything, under their
   * ids, each with a fresh `ackTimeoutMs` deadline; `settled` hears each outcome (there is no
   * `send()` caller to tell). They count against no queue bound: they were accepted before.
   */
  restore(messages: readonly StoredMessage[], settled: (id: string, result: Json | undefined, error: LifelineError | undefined) => void): void {
    const cfg = this.config;
    const at = cfg.now();
    const restored = messages.map(({ id, data }) => {
      const m = new Outgoing(
        id,
        idJsonOf(id),
        data,
        cfg.ackTimeoutMs,
        cfg.plugins.active ? at : undefined,
        (result) => settled(id, result, undefined),
        (error) => settled(id, undefined, error as LifelineError),
        undefined,
      );
      this.accept(m, at);
      return m;
    });
    this.requeueFront(restored);
    if (this.online) this.pump(at);
  }

  /** A new message is pending from `at`: counted, given its deadline, reported to plugins. */
  private accept(m: Outgoing, at: number): void {
    this.unsettled++;
    if (Number.isFinite(m.timeoutMs)) this.deadlines.add(m, at + m.timeoutMs);
    const { plugins } = this.config;
    if (plugins.active) plugins.onSend({ id: m.id, bytes: m.dataJson.length, at }, this.config.ctx());
  }

  /** Put `messages` (in order) at the front of the queue, as never sent under the current sequence. */
  requeueFront(messages: readonly Outgoing[]): void {
    if (messages.length === 0) return;
    for (const m of messages) {
      m.status = QUEUED;
      m.seq = 0;
      this.queuedCount++;
      this.queuedBytes += m.dataJson.length;
    }
    this.queue = [...messages, ...this.queue.slice(this.head)];
    this.head = 0;
  }

  /**
   * The window also bounds the span of seqs awaiting an outcome, not only their count: the server
   * caches the last `win` outcomes, so a message sent `win` seqs after the oldest one still awaited
   * could push that one's outcome out of the cache before a retransmission asks for it (chaos seed 88).
   * Seqs in flight are distinct and within [oldest, nextSeq), so this bounds their count too.
   * Returns the first seq that may not be sent yet.
   */
  private seqLimit(): number {
    const oldest = this.inFlight.size === 0 ? this.nextSeq : (this.inFlight.keys().next().value as number);
    return oldest + this.window;
  }

  /**
   * On a new connection, forget the in-flight zombies (deadline passed) the server never accepted
   * (seq above `acceptedSeq`, the welcome's mark, or all of them when the session was lost). A zombie
   * the server did accept keeps its window slot and is retransmitted to fetch its ack: the server is
   * still holding it (or its outcome), so forgetting it would let the client pass the window.
   */
  purgeZombies(acceptedSeq: number): void {
    for (const [seq, m] of this.inFlight) if (m.status !== IN_FLIGHT && seq > acceptedSeq) this.inFlight.delete(seq);
  }

  /** Resolves once every `send()` has settled. */
  settled(): Promise<void> {
    if (this.unsettled === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Reject everything still pending (the client closed) and refuse further sends. */
  closeAll(error: (m: Outgoing) => LifelineError): void {
    this.closed = error;
    this.online = false;
    const all: Outgoing[] = [];
    for (let i = this.waitHead; i < this.waiting.length; i++) all.push(this.waiting[i] as Outgoing);
    for (let i = this.head; i < this.queue.length; i++) all.push(this.queue[i] as Outgoing);
    for (const m of this.inFlight.values()) all.push(m);
    for (const m of all) if (m.live) this.settleFailed(m, error(m));
    this.inFlight.clear();
    this.queue = [];
    this.head = 0;
    this.waiting = [];
    this.waitHead = 0;
    this.queuedCount = 0;
    this.queuedBytes = 0;
    this.deadlines.clear();
  }

  private enqueue(m: Outgoing): void {
    m.status = QUEUED;
    this.queue.push(m);
    this.queuedCount++;
    this.queuedBytes += m.dataJson.length;
  }

  private hasRoom(bytes: number): boolean {
    const { maxQueuedMessages, maxQueuedBytes } = this.config;
    // One message larger than the byte bound still fits an empty queue, or it could never be sent.
    return this.queuedCount < maxQueuedMessages && (this.queuedCount === 0 || this.queuedBytes + bytes <= maxQueuedBytes);
  }

  /** Move waiting messages into the queue, in order, while there is room. */
  private admit(): void {
    if (this.closed) return;
    const w = this.waiting;
    while (this.waitHead < w.length) {
      const m = w[this.waitHead] as Outgoing;
      if (m.status === WAITING) {
        if (!this.hasRoom(m.dataJson.length)) return;
        this.enqueue(m);
      }
      w[this.waitHead++] = undefined;
    }
    this.waiting = [];
    this.waitHead = 0;
  }

  /** Drop tombstones (messages settled while queued) once they outnumber the live ones. */
  private sweep(): void {
    const tombstones = this.queue.length - this.head - this.queuedCount;
    if (this.queuedCount === 0) {
      this.queue = [];
      this.head = 0;
    } else if (tombstones > 1024 && tombstones > this.queuedCount) {
      this.queue = this.queue.filter((m, i) => i >= this.head && m !== undefined && m.status === QUEUED);
      this.head = 0;
    }
  }

  private compact(): void {
    if (this.head === 0) return;
    if (this.head >= this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  /** The frame's size in bytes when it exceeds `maxFrameBytes`, else 0. Exact UTF-8 only near the limit. */
  private oversize(dataJson: string, id: string, idJson: string | undefined): number {
    const max = this.maxFrameBytes;
    const idChars = idJson === undefined ? id.length + 2 : idJson.length;
    if ((dataJson.length + idChars + ENVELOPE) * 3 <= max) return 0;
    const bytes = utf8Length(dataJson) + (idJson === undefined ? utf8Length(id) + 2 : utf8Length(idJson)) + ENVELOPE;
    return bytes > max ? bytes : 0;
  }

  private expire(m: Outgoing): void {
    if (!m.live) return;
    this.settleFailed(m, new AckTimeoutError(m.id, m.transmitted, m.timeoutMs));
  }

  /** Settle `m` with `error`, taking it out of wherever it is (an in-flight one stays as a zombie). */
  private settleFailed(m: Outgoing, error: LifelineError, drop?: 'payload-too-large'): void {
    if (!m.live) return;
    if (m.status === QUEUED) {
      this.queuedCount--;
      this.queuedBytes -= m.dataJson.length;
      this.sweep();
    }
    const wasQueuedOrWaiting = m.status === QUEUED || m.status === WAITING;
    this.settle(m);
    m.reject(error);
    this.failed(m.id, error.code, m.transmitted, drop);
    if (wasQueuedOrWaiting && this.waitHead < this.waiting.length) this.admit();
  }

  private settle(m: Outgoing): void {
    m.status = DONE;
    // Closing the client is not an outcome: the durable outbox keeps the message for the next run.
    if (this.closed === undefined) this.config.store?.remove(m.id);
    this.deadlines.delete(m);
    if (m.onAbort !== undefined) {
      m.signal?.removeEventListener('abort', m.onAbort);
      m.onAbort = undefined;
    }
    if (--this.unsettled === 0 && this.idle.length > 0) {
      const idle = this.idle;
      this.idle = [];
      for (const resolve of idle) resolve();
    }
  }

  private refuse(id: string, error: LifelineError, at: number, drop?: 'queue-full' | 'payload-too-large'): Promise<never> {
    this.failed(id, error.code, false, drop, at);
    return Promise.reject(error);
  }

  private acked(m: Outgoing, errorCode: string | undefined, at: number): void {
    const { plugins } = this.config;
    if (!plugins.active) return;
    // With plugins (fixed at construction) `queuedAt` and `sentAt` are always set; `??` is for the types.
    const queuedAt = m.queuedAt ?? at;
    const sentAt = m.sentAt ?? at;
    plugins.onAck(
      errorCode === undefined ? { id: m.id, seq: m.seq, queuedAt, sentAt, at } : { id: m.id, seq: m.seq, queuedAt, sentAt, at, errorCode },
      this.config.ctx(),
    );
  }

  private failed(id: string, code: ErrorCode, maybeDelivered: boolean, drop?: 'queue-full' | 'payload-too-large', at = this.config.now()): void {
    const { plugins } = this.config;
    if (!plugins.active) return;
    const ctx = this.config.ctx();
    if (drop !== undefined) plugins.onDrop({ reason: drop, count: 1, at }, ctx);
    plugins.onFail({ id, code, maybeDelivered, at }, ctx);
  }
}

/** UTF-8 length of a string, without encoding it. */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c <= 0xdbff) {
      bytes += 2; // a surrogate pair: 4 bytes for 2 code units
      i++;
    } else bytes += 2;
  }
  return bytes;
}
