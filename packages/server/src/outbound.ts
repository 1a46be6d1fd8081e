import {
  AbortError,
  AckTimeoutError,
  ClosedError,
  PayloadTooLargeError,
  QueueFullError,
  encodeMsg,
  messageId,
  now as monotonic,
  type ErrorCode,
} from '@lifeline/protocol';
import type { Connection } from './connection.js';
import type { ServerContext } from './context.js';
import { Fifo } from './fifo.js';
import { MAX_TIMER_MS } from './options.js';
import type { SessionCloseReason, SessionImpl } from './session.js';

export interface SendOptions {
  /** Deadline for the client's ack. @default the server's `ackTimeoutMs` */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Message id (1–128 characters). @default a random 21-character id, as the client makes */
  id?: string;
}

/** Where a message is: waiting for room in the queue, queued behind the window, on the wire, or done. */
const Stage = { Waiting: 0, Queued: 1, InFlight: 2, Settled: 3 } as const;
type Stage = (typeof Stage)[keyof typeof Stage];

/** One `session.send()`. The payload is encoded once; a replay only rebuilds the envelope. */
export class Outgoing {
  stage: Stage = Stage.Queued;
  /** Assigned at first transmission; 0 until then. */
  seq = 0;
  /** Wall clock at first transmission (`msg.ts`). */
  ts = 0;
  /** Monotonic ms of first transmission (plugin events). */
  sentAt = 0;
  promise!: Promise<void>;
  resolve!: () => void;
  reject!: (error: Error) => void;
  onAbort: (() => void) | undefined;

  constructor(
    readonly owner: Outbound,
    readonly id: string,
    readonly idJson: string,
    readonly dataJson: string,
    readonly timeoutMs: number,
    readonly queuedAt: number,
    readonly signal: AbortSignal | undefined,
  ) {}
}

const ignore = (): void => {};

/**
 * A rejected `send()` promise nobody awaits must not become an unhandled rejection, which
 * ends a Node process: pushes are often fire-and-forget (`session.send(x)` in a listener).
 * Marking it handled costs nothing on the success path; whoever awaits still gets the error.
 */
function rejected(error: Error): Promise<never> {
  const promise = Promise.reject(error);
  promise.catch(ignore);
  return promise;
}

const closeText: Readonly<Record<SessionCloseReason, string>> = {
  closed: 'the session was closed by the server',
  expired: 'the session expired',
  evicted: 'the session was ended for a newer session of the same identity (maxSessionsPerIdentity)',
  'server-closed': 'the server shut down',
  'client-closed': 'the client ended the session',
};

/**
 * Server → client, at least once and in order (protocol.md, `msg` and `cack`). Messages wait
 * in a bounded queue, move in flight while the client's window has room, and stay there until
 * a cumulative `cack` covers them; after a resume every unacknowledged one is sent again. The
 * window is counted in seqs above the last `cack`, which is what the client can be holding.
 */
export class Outbound {
  private window: number;
  private lastSeq = 0;
  private cacked = 0;
  private readonly waiting = new Fifo<Outgoing>();
  private readonly queue = new Fifo<Outgoing>();
  private readonly inflight = new Fifo<Outgoing>();
  /** Index in `inflight` of the first message the current connection has not been sent. */
  private resendAt = 0;
  private liveWaiting = 0;
  /** Characters of the live waiting senders' data: the waiting list is bounded like the queue. */
  private waitingBytes = 0;
  private queuedCount = 0;
  private queuedBytes = 0;
  /** Settled messages still sitting in `queue` or `waiting` (removed lazily). */
  private garbage = 0;
  private retransmits = 0;
  private ended: SessionCloseReason | undefined;
  private endCode: number | undefined;

  constructor(
    private readonly session: SessionImpl,
    private readonly ctx: ServerContext,
  ) {
    this.window = ctx.options.maxInFlight;
  }

  send(data: unknown, options: SendOptions = {}): Promise<void> {
    if (this.ended !== undefined) {
      return rejected(new ClosedError(`session.send(): ${closeText[this.ended]}`, { closeCode: this.endCode }));
    }
    let dataJson: string | undefined;
    try {
      dataJson = JSON.stringify(data);
    } catch (error) {
      return rejected(error instanceof Error ? error : new TypeError(String(error)));
    }
    if (dataJson === undefined) return rejected(new TypeError('session.send() data must be JSON (got undefined, a function or a symbol)'));
    const id = options.id ?? messageId();
    if (typeof id !== 'string' || id.length < 1 || id.length > 128) {
      return rejected(new TypeError('session.send() id must be a string of 1 to 128 characters'));
    }
    const { options: o, plugins } = this.ctx;
    const timeoutMs = options.timeoutMs ?? o.ackTimeoutMs;
    if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) {
      return rejected(new TypeError(`session.send() timeoutMs must be a non-negative number, got ${String(timeoutMs)}`));
    }
    const at = monotonic();
    const signal = options.signal;
    const bytes = dataJson.length;
    if (plugins.active) plugins.onSend({ id, bytes, at }, this.session.pluginContext);
    if (signal?.aborted) {
      return this.refuse(id, 'ERR_ABORTED', new AbortError(`session.send() of ${id} was aborted before it was queued`, { cause: signal.reason }));
    }
    const limits = o.maxQueued;
    if (bytes > limits.bytes) return this.refuse(id, 'ERR_PAYLOAD_TOO_LARGE', new PayloadTooLargeError(bytes, limits.bytes), 'payload-too-large');
    const fits = this.liveWaiting === 0 && this.hasRoom(bytes);
    if (!fits && o.overflow === 'reject') {
      return this.refuse(id, 'ERR_QUEUE_FULL', new QueueFullError(`session ${this.session.id}: the send queue is full (maxQueued)`), 'queue-full');
    }
    // Waiting senders hold their data too: without this bound a client that never acknowledges
    // makes 'wait' buffer without limit (issue 9: 60,000 pushes of 1 KB cost 115 MB).
    if (!fits && !this.canWait(bytes)) {
      const error = new QueueFullError(`session ${this.session.id}: the send queue and its waiting list are full (maxQueued each)`);
      return this.refuse(id, 'ERR_QUEUE_FULL', error, 'queue-full');
    }

    const item = new Outgoing(this, id, JSON.stringify(id), dataJson, timeoutMs, at, signal);
    const promise = new Promise<void>((resolve, reject) => {
      item.resolve = resolve;
      item.reject = reject;
    });
    item.promise = promise;
    // Longer than a timer can hold is treated as no deadline; the session's end still settles it.
    if (timeoutMs <= MAX_TIMER_MS) this.ctx.sendDeadlines.add(item, at + timeoutMs);
    if (signal !== undefined) {
      item.onAbort = () => this.abort(item);
      signal.addEventListener('abort', item.onAbort, { once: true });
    }
    if (fits) {
      this.admit(item);
      this.pump();
    } else {
      item.stage = Stage.Waiting;
      this.waiting.push(item);
      this.liveWaiting++;
      this.waitingBytes += bytes;
    }
    return promise;
  }

  /** A new connection took the session: resend everything unacknowledged after `ackSeq`. */
  attach(win: number | undefined, ackSeq: number): number {
    const max = this.ctx.options.maxInFlight;
    this.window = win === undefined ? max : Math.min(win, max);
    this.resendAt = 0;
    const before = this.retransmits;
    if (ackSeq > this.cacked) this.cack(ackSeq);
    else this.pump();
    return this.retransmits - before;
  }

  /** The client delivered every message up to `seq`. */
  cack(seq: number): void {
    // Acks for seqs never sent are capped: they cannot vouch for anything beyond lastSeq.
    const upTo = Math.min(seq, this.lastSeq);
    if (upTo <= this.cacked) return;
    this.cacked = upTo;
    const plugins = this.ctx.plugins;
    const inflight = this.inflight;
    for (let item = inflight.peek(); item !== undefined && item.seq <= upTo; item = inflight.peek()) {
      inflight.shift();
      if (this.resendAt > 0) this.resendAt--;
      if (item.stage !== Stage.InFlight) continue;
      this.settle(item);
      if (plugins.active) {
        plugins.onAck({ id: item.id, seq: item.seq, queuedAt: item.queuedAt, sentAt: item.sentAt, at: monotonic() }, this.session.pluginContext);
      }
      item.resolve();
    }
    this.pump();
  }

  /** Write what the window and the socket allow: first what this connection has not seen, then new messages. */
  pump(): void {
    const conn = this.session.connection;
    if (conn === undefined || conn.blocked || this.ended !== undefined) return;
    const limit = this.cacked + this.window;
    const inflight = this.inflight;
    while (this.resendAt < inflight.length) {
      const item = inflight.at(this.resendAt) as Outgoing;
      if (item.stage === Stage.InFlight) {
        if (item.seq > limit) return;
        this.transmit(conn, item, true);
      }
      this.resendAt++;
      if (conn.blocked) return;
    }
    while (this.lastSeq < limit && !conn.blocked) {
      const item = this.queue.shift();
      if (item === undefined) {
        if (this.liveWaiting > 0 && this.admitWaiting()) continue;
        break;
      }
      if (item.stage !== Stage.Queued) {
        this.garbage--;
        continue;
      }
      this.queuedCount--;
      this.queuedBytes -= item.dataJson.length;
      item.stage = Stage.InFlight;
      item.seq = ++this.lastSeq;
      item.ts = this.ctx.options.now();
      inflight.push(item);
      this.resendAt = inflight.length;
      this.transmit(conn, item, false);
    }
    if (this.liveWaiting > 0) this.admitWaiting();
  }

  /** The session ended: every pending send rejects with `ClosedError`. */
  end(reason: SessionCloseReason, closeCode: number | undefined): void {
    if (this.ended !== undefined) return;
    this.ended = reason;
    this.endCode = closeCode;
    const pending = [...this.inflight.drain(), ...this.queue.drain(), ...this.waiting.drain()];
    this.liveWaiting = this.waitingBytes = this.queuedCount = this.queuedBytes = this.garbage = 0;
    this.resendAt = 0;
    for (const item of pending) {
      if (item.stage === Stage.Settled) continue;
      const maybeDelivered = item.seq > 0;
      this.settle(item);
      this.fail(item, 'ERR_CLOSED', maybeDelivered, new ClosedError(`session.send() of ${item.id}: ${closeText[reason]}`, { maybeDelivered, closeCode }));
    }
  }

  /** The item's deadline passed (called by the server-wide `Deadlines`). */
  expire(item: Outgoing): void {
    if (item.stage === Stage.Settled) return;
    const maybeDelivered = item.stage === Stage.InFlight;
    this.drop(item);
    this.fail(item, 'ERR_ACK_TIMEOUT', maybeDelivered, new AckTimeoutError(item.id, maybeDelivered, item.timeoutMs));
  }

  private abort(item: Outgoing): void {
    if (item.stage === Stage.Settled) return;
    const maybeDelivered = item.stage === Stage.InFlight;
    this.drop(item);
    const error = new AbortError(`session.send() of ${item.id} was aborted`, { cause: item.signal?.reason, maybeDelivered });
    this.fail(item, 'ERR_ABORTED', maybeDelivered, error);
  }

  private transmit(conn: Connection, item: Outgoing, retransmit: boolean): void {
    const at = monotonic();
    if (retransmit) this.retransmits++;
    else item.sentAt = at;
    conn.writer.push(encodeMsg(item.seq, item.idJson, item.ts, item.dataJson));
    const plugins = this.ctx.plugins;
    if (plugins.active) {
      plugins.onTransmit({ id: item.id, seq: item.seq, queuedAt: item.queuedAt, at, retransmit }, this.session.pluginContext);
    }
  }

  private hasRoom(bytes: number): boolean {
    const limits = this.ctx.options.maxQueued;
    return this.queuedCount < limits.messages && this.queuedBytes + bytes <= limits.bytes;
  }

  /** Room in the waiting list behind a full queue: the same bounds as the queue. */
  private canWait(bytes: number): boolean {
    const limits = this.ctx.options.maxQueued;
    return this.liveWaiting < limits.messages && this.waitingBytes + bytes <= limits.bytes;
  }

  private admit(item: Outgoing): void {
    item.stage = Stage.Queued;
    this.queue.push(item);
    this.queuedCount++;
    this.queuedBytes += item.dataJson.length;
  }

  /** Move waiting senders into the queue, in order, while there is room. */
  private admitWaiting(): boolean {
    let admitted = false;
    for (let item = this.waiting.peek(); item !== undefined; item = this.waiting.peek()) {
      if (item.stage === Stage.Settled) {
        this.waiting.shift();
        this.garbage--;
        continue;
      }
      if (!this.hasRoom(item.dataJson.length)) break;
      this.waiting.shift();
      this.liveWaiting--;
      this.waitingBytes -= item.dataJson.length;
      this.admit(item);
      admitted = true;
    }
    return admitted;
  }

  /** Take a message out of the buffers before its ack (deadline or abort). An in-flight one leaves its seq behind. */
  private drop(item: Outgoing): void {
    const stage = item.stage;
    this.settle(item);
    if (stage === Stage.Queued) {
      this.queuedCount--;
      this.queuedBytes -= item.dataJson.length;
      this.garbage++;
      if (this.liveWaiting > 0 && this.admitWaiting()) this.pump();
    } else if (stage === Stage.Waiting) {
      this.liveWaiting--;
      this.waitingBytes -= item.dataJson.length;
      this.garbage++;
    }
    if (this.garbage > 1024 && this.garbage * 2 > this.queue.length + this.waiting.length) {
      const live = (i: Outgoing) => i.stage !== Stage.Settled;
      this.queue.retain(live);
      this.waiting.retain(live);
      this.garbage = 0;
    }
  }

  private settle(item: Outgoing): void {
    item.stage = Stage.Settled;
    this.ctx.sendDeadlines.delete(item);
    if (item.onAbort !== undefined) {
      item.signal?.removeEventListener('abort', item.onAbort);
      item.onAbort = undefined;
    }
  }

  private fail(item: Outgoing, code: ErrorCode, maybeDelivered: boolean, error: Error): void {
    const plugins = this.ctx.plugins;
    if (plugins.active) plugins.onFail({ id: item.id, code, maybeDelivered, at: monotonic() }, this.session.pluginContext);
    item.promise.catch(ignore);
    item.reject(error);
  }

  private refuse(id: string, code: ErrorCode, error: Error, drop?: 'queue-full' | 'payload-too-large'): Promise<never> {
    const plugins = this.ctx.plugins;
    if (plugins.active) {
      const at = monotonic();
      if (drop !== undefined) plugins.onDrop({ reason: drop, count: 1, at }, this.session.pluginContext);
      plugins.onFail({ id, code, maybeDelivered: false, at }, this.session.pluginContext);
    }
    return rejected(error);
  }
}
