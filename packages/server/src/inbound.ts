import type { Codec, MsgFrame } from '@lifeline/protocol';
import { Fifo, MAX_BATCHED_RESULT_DEPTH, atTurnEnd, now as monotonic, type FrameWriter } from '@lifeline/protocol/internal';
import { ReadPause } from './connection.js';
import type { ServerContext } from './context.js';
import type { HandlerContext } from './options.js';
import { ErrorOutcome, ResultCache, ackFrame, errorOutcome, evicted, type Outcome } from './results.js';
import type { SessionImpl } from './session.js';

/** A run of successful acks is cut into frames of about this many characters (codec size units). */
const MAX_RUN_CHARS = 64 * 1024;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * Client → server: accept each `msg` above the accepted mark, call the handler once per
 * message, in seq order, one at a time, and answer with its outcome (protocol.md, `msg`, `ack`,
 * `acks`). A handler that returns a plain value is called straight from the socket callback,
 * with no promise in between; only a thenable, or a socket over its write high-water mark, makes
 * the next message wait in the queue (so what piles up behind a client that does not read is its
 * small requests, not our large answers). The queue is bounded in messages (the window: a
 * violation) and in bytes (backpressure: the socket is not read while it holds more than
 * `maxInboundBytes`).
 */
export class Inbound {
  /** Highest client seq accepted (handed, or queued, to the handler). */
  accepted = 0;
  /** Highest seq whose outcome is known: handling is in order, so every accepted seq up to here is done. */
  private done = 0;
  private readonly queue = new Fifo<MsgFrame>();
  /** What each queued message cost on the wire, beside `queue`. */
  private readonly costs = new Fifo<number>();
  private queuedBytes = 0;
  /** A handler call is in progress (its promise is pending), so new messages queue. */
  private busy = false;
  private current = 0;
  private ended = false;
  /** Consecutive successful outcomes not yet written: one `acks` frame at the next flush. */
  private runFirst = 0;
  /** Results encoded in the session's codec, each within `acks.r`'s nesting bound. */
  private run: unknown[] = [];
  private runChars = 0;
  private idleWaiter: (() => void) | undefined;
  private readonly results: ResultCache;
  private readonly handler: ServerContext['options']['handler'];
  private readonly codec: Codec;

  constructor(
    private readonly session: SessionImpl,
    private readonly ctx: ServerContext,
  ) {
    this.codec = session.codec;
    this.results = new ResultCache(this.codec, ctx.options.maxInFlight, ctx.options.maxResultCacheBytes);
    this.handler = ctx.options.handler;
  }

  /**
   * `wallAt` / `at`: the clocks as read on arrival (plugins only; 0 without). `bytes`: what the
   * frame cost on the wire (its share of the WebSocket message).
   */
  receive(f: MsgFrame, wallAt: number, at: number, bytes: number): void {
    const duplicate = f.seq <= this.accepted;
    const plugins = this.ctx.plugins;
    if (plugins.active) {
      plugins.onReceive({ id: f.id, seq: f.seq, sentAt: f.ts, wallAt, at, duplicate }, this.session.pluginContext);
    }
    if (duplicate) {
      this.answerDuplicate(f.seq);
      return;
    }
    // While the server shuts down nothing new is accepted: the client keeps it and retransmits.
    if (this.ended || this.ctx.closing) return;
    const wait = this.busy || this.queue.length > 0 || this.session.connection?.blocked === true;
    // Running + queued + this one may not pass welcome.win: the client ignored the window
    // (protocol.md, `msg`; a client keeps even its timed-out messages in the window until acked).
    if (wait && (this.busy ? 1 : 0) + this.queue.length + 1 > this.ctx.options.maxInFlight) {
      this.ctx.limits.brokeWindow(this.session);
      return;
    }
    this.accepted = f.seq;
    if (wait) this.enqueue(f, bytes);
    else this.handle(f, wallAt, at);
  }

  /** Write the pending run of successful acks as one frame (the writer's `beforeFlush` hook). */
  flushAcks(writer: FrameWriter<unknown>): void {
    const n = this.run.length;
    if (n === 0) return;
    const frame = n === 1 ? this.codec.ack(this.runFirst, this.run[0]) : this.codec.acks(this.runFirst, this.run);
    // Reset before pushing: the push may flush, and the flush calls back here.
    this.run = [];
    this.runChars = 0;
    writer.push(frame);
  }

  /**
   * The connection is gone: unsent acks go with it (the outcomes stay cached for retransmissions),
   * and messages that waited for its socket to drain are handled now (outside its close).
   */
  connectionLost(): void {
    this.run = [];
    this.runChars = 0;
    if (!this.busy && this.queue.length > 0) atTurnEnd(this.drainSafely);
  }

  /** No handler running and nothing queued. */
  get idle(): boolean {
    return !this.busy && this.queue.length === 0;
  }

  /** Resolves when the handler queue is empty (for a graceful shutdown). */
  whenIdle(): Promise<void> {
    if (this.idle || this.ended) return Promise.resolve();
    const previous = this.idleWaiter;
    return new Promise((resolve) => {
      this.idleWaiter = () => {
        previous?.();
        resolve();
      };
    });
  }

  /** The session ended: queued messages are not handled; a running handler's outcome is dropped. */
  end(): void {
    this.ended = true;
    this.queue.clear();
    this.costs.clear();
    this.queuedBytes = 0;
    this.run = [];
    this.runChars = 0;
    this.results.clear();
    this.notifyIdle();
  }

  /** `wallAt` / `at`: the clocks as read on arrival when handled at once (0: read them now). */
  private handle(f: MsgFrame, wallAt = 0, at = 0): void {
    this.busy = true;
    const plugins = this.ctx.plugins;
    if (plugins.active) {
      if (at === 0) {
        wallAt = this.ctx.options.now();
        at = monotonic();
      }
      plugins.onDeliver({ id: f.id, seq: f.seq, sentAt: f.ts, wallAt, at }, this.session.pluginContext);
    }
    let value: unknown;
    try {
      const ctx: HandlerContext = { session: this.session, id: f.id, seq: f.seq };
      value = this.handler(f.d, ctx);
      if (isThenable(value)) {
        this.current = f.seq;
        value.then(this.onFulfilled, this.onRejected);
        return;
      }
    } catch (error) {
      this.busy = false;
      this.finish(f.seq, errorOutcome(this.codec, error));
      return;
    }
    this.busy = false;
    this.finishValue(f.seq, value);
  }

  private readonly onFulfilled = (value: unknown): void => {
    if (this.ended) return;
    try {
      this.busy = false;
      this.finishValue(this.current, value);
      this.drain();
    } catch (error) {
      // Runs in a promise callback: a throw here would be an unhandled rejection.
      this.ctx.reportError(error);
    }
  };

  private readonly onRejected = (error: unknown): void => {
    if (this.ended) return;
    try {
      this.busy = false;
      this.finish(this.current, errorOutcome(this.codec, error));
      this.drain();
    } catch (failure) {
      this.ctx.reportError(failure);
    }
  };

  private enqueue(f: MsgFrame, bytes: number): void {
    this.queue.push(f);
    this.costs.push(bytes);
    this.queuedBytes += bytes;
    // Over the bound: stop reading until the handler catches up. What was read already (the rest
    // of one socket read) still queues, so the bound is exceeded by at most that.
    if (this.queuedBytes > this.ctx.options.maxInboundBytes) this.session.connection?.pauseReading(ReadPause.Queued);
  }

  /** Hand queued messages to the handler while it is free and the socket takes writes (called again when it drains). */
  drain(): void {
    while (!this.busy && !this.ended) {
      if (this.session.connection?.blocked === true) return;
      const f = this.queue.shift();
      if (f === undefined) break;
      this.queuedBytes -= this.costs.shift() as number;
      this.handle(f);
    }
    // Half the bound, so one message more does not pause the socket again at once.
    if (this.queuedBytes <= this.ctx.options.maxInboundBytes / 2) this.session.connection?.resumeReading(ReadPause.Queued);
    if (!this.busy) this.notifyIdle();
  }

  private readonly drainSafely = (): void => {
    try {
      this.drain();
    } catch (error) {
      this.ctx.reportError(error);
    }
  };

  private notifyIdle(): void {
    const waiter = this.idleWaiter;
    if (waiter === undefined) return;
    this.idleWaiter = undefined;
    waiter();
  }

  private finishValue(seq: number, value: unknown): void {
    // Nothing (undefined, a function, a symbol) is a null result on the wire.
    const result = value === undefined || typeof value === 'function' || typeof value === 'symbol' ? null : value;
    let r: unknown;
    try {
      r = this.codec.value(result);
    } catch (error) {
      // A cycle, a BigInt, or nesting the client's decoder would refuse: the client learns why.
      const why = error instanceof Error ? error.message : String(error);
      this.finish(seq, errorOutcome(this.codec, new TypeError(`the handler's result cannot be encoded: ${why}`)));
      return;
    }
    this.finish(seq, r);
  }

  private finish(seq: number, outcome: Outcome): void {
    if (this.ended) return;
    this.done = seq;
    this.results.set(seq, outcome);
    this.sendOutcome(seq, outcome);
  }

  private answerDuplicate(seq: number): void {
    // Still queued or running: its ack follows when the handler finishes.
    if (seq > this.done || this.ended) return;
    const conn = this.session.connection;
    // Answered on this connection already: 4096 copies of one message get one answer, not 4096.
    if (conn === undefined || seq <= conn.duplicatesAnswered) return;
    conn.duplicatesAnswered = seq;
    this.sendOutcome(seq, this.results.get(seq) ?? evicted(this.codec));
  }

  /**
   * Successes join the run (one `acks` frame per flush); an error cuts the run and goes alone, and
   * so does a result nested too deep for `acks.r` (62 levels; `ack.r` takes 63).
   */
  private sendOutcome(seq: number, outcome: Outcome): void {
    const conn = this.session.connection;
    // Detached: the outcome waits in the cache for the client's retransmission.
    if (conn === undefined) return;
    const writer = conn.writer;
    const codec = this.codec;
    if (outcome instanceof ErrorOutcome || !codec.nestsWithin(outcome, MAX_BATCHED_RESULT_DEPTH)) {
      this.flushAcks(writer);
      writer.push(ackFrame(codec, seq, outcome));
      return;
    }
    if (this.run.length > 0 && seq !== this.runFirst + this.run.length) this.flushAcks(writer);
    if (this.run.length === 0) this.runFirst = seq;
    this.run.push(outcome);
    this.runChars += codec.size(outcome);
    if (this.runChars >= MAX_RUN_CHARS) this.flushAcks(writer);
    else writer.schedule();
  }
}
