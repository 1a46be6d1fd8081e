import { CloseCode, type Codec, type MsgFrame, type PluginContext } from '@lifeline/protocol';
import { Fifo, atTurnEnd, now as monotonic, type PluginHost } from '@lifeline/protocol/internal';
import { AckRun } from './ack-run.js';
import { ReadPause, type InboundLink } from './link.js';
import type { HandlerContext, ResolvedOptions } from './options.js';
import { ResultCache, errorOutcome, evicted, type Outcome } from './results.js';
import type { Session } from './session.js';

/** What the server gives each session's inbound part. */
export interface InboundDeps {
  readonly options: Pick<ResolvedOptions, 'handler' | 'maxInFlight' | 'maxInboundBytes' | 'maxResultCacheBytes' | 'now'>;
  readonly plugins: PluginHost;
  /** True once `server.close()` began: no new message is accepted (the client keeps it and retransmits). */
  closing(): boolean;
  /** An unexpected failure: reported through the server's `error` event, never thrown. */
  reportError(error: unknown): void;
}

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
 *
 * The path of one message: `receive` → `handle` (the handler) → `finish` (the outcome, cached
 * for retransmissions) → `answer` → `acks` (the `AckRun` the connection's writer pulls at its
 * flush) → the socket.
 */
export class Inbound {
  /** Successful outcomes not yet written, pulled by the connection's writer at each flush. */
  readonly acks: AckRun;
  private accepted = 0;
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
  private idleWaiter: (() => void) | undefined;
  private readonly results: ResultCache;
  /** The connection holding the session; undefined while it is detached. */
  private link: InboundLink | undefined;
  /**
   * Highest seq answered to a duplicate on this connection. A client retransmits once per
   * connection, in seq order, so anything at or below it was answered here already: copies of
   * one message must not multiply its answer.
   */
  private duplicatesAnswered = 0;
  /**
   * The callbacks of a handler's promise and of a deferred drain, made at their first use: a
   * session whose handler answers at once, or that stays idle, pays nothing for them (3 closures,
   * 168 bytes: issue 14).
   */
  private onFulfilled: ((value: unknown) => void) | undefined;
  private onRejected: ((error: unknown) => void) | undefined;
  private drainSafely: (() => void) | undefined;

  constructor(
    /** Handed to the handler (`ctx.session`). */
    private readonly session: Session,
    private readonly pluginContext: PluginContext,
    private readonly codec: Codec,
    private readonly deps: InboundDeps,
  ) {
    this.acks = new AckRun(codec, this);
    this.results = new ResultCache(codec, deps.options.maxInFlight, deps.options.maxResultCacheBytes);
  }

  /**
   * The client holds every answer up to `seq` and will not send those messages again: their
   * outcomes leave the cache. A client that says so too early only loses its own answers: a
   * retransmission of a forgotten seq gets `ERR_RESULT_EVICTED`, never a second handler call.
   */
  got(seq: number): void {
    this.results.forgetThrough(seq);
  }

  /** Highest client seq accepted (handed, or queued, to the handler): `welcome.seq`. */
  get acceptedSeq(): number {
    return this.accepted;
  }

  /** A connection took the session: acks and the window are answered on it. */
  attach(link: InboundLink): void {
    this.link = link;
    this.duplicatesAnswered = 0;
  }

  /**
   * The connection is gone: unsent acks go with it (the outcomes stay cached for retransmissions),
   * and messages that waited for its socket to drain are handled now (outside its close).
   */
  detach(): void {
    this.link = undefined;
    this.acks.clear();
    if (!this.busy && this.queue.length > 0) atTurnEnd((this.drainSafely ??= () => this.drainReporting()));
  }

  /**
   * `wallAt` / `at`: the clocks as read on arrival (plugins only; 0 without). `bytes`: what the
   * frame cost on the wire (its share of the WebSocket message).
   */
  receive(f: MsgFrame, wallAt: number, at: number, bytes: number): void {
    const duplicate = f.seq <= this.accepted;
    const plugins = this.deps.plugins;
    if (plugins.active) {
      plugins.onReceive({ id: f.id, seq: f.seq, sentAt: f.ts, wallAt, at, duplicate }, this.pluginContext);
    }
    if (duplicate) {
      this.answerDuplicate(f.seq);
      return;
    }
    // While the server shuts down nothing new is accepted: the client keeps it and retransmits.
    if (this.ended || this.deps.closing()) return;
    const wait = this.busy || this.queue.length > 0 || this.link?.writable === false;
    // Running + queued + this one may not pass welcome.win: the client ignored the window
    // (protocol.md, `msg`; a client keeps even its timed-out messages in the window until acked).
    // A slow async handler behind such a client: close 4400, a protocol error.
    const max = this.deps.options.maxInFlight;
    if (wait && (this.busy ? 1 : 0) + this.queue.length + 1 > max) {
      this.link?.fail(CloseCode.BadFrame, `more than ${max} messages without an ack: the client broke the window (welcome.win)`);
      return;
    }
    this.accepted = f.seq;
    if (wait) this.enqueue(f, bytes);
    else this.handle(f, wallAt, at);
  }

  /** A handler call is in progress: its ack would join the run (`AckRun`). */
  get answering(): boolean {
    return this.busy;
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
    this.acks.clear();
    this.results.clear();
    this.notifyIdle();
  }

  /** `wallAt` / `at`: the clocks as read on arrival when handled at once (0: read them now). */
  private handle(f: MsgFrame, wallAt = 0, at = 0): void {
    this.busy = true;
    const plugins = this.deps.plugins;
    if (plugins.active) {
      if (at === 0) {
        wallAt = this.deps.options.now();
        at = monotonic();
      }
      plugins.onDeliver({ id: f.id, seq: f.seq, sentAt: f.ts, wallAt, at }, this.pluginContext);
    }
    let value: unknown;
    try {
      const ctx: HandlerContext = { session: this.session, id: f.id, seq: f.seq, redelivered: false };
      value = this.deps.options.handler(f.d, ctx);
      if (isThenable(value)) {
        this.current = f.seq;
        value.then((this.onFulfilled ??= (v) => this.fulfilled(v)), (this.onRejected ??= (e) => this.rejected(e)));
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

  private fulfilled(value: unknown): void {
    if (this.ended) return;
    try {
      this.busy = false;
      this.finishValue(this.current, value);
      this.drain();
    } catch (error) {
      // Runs in a promise callback: a throw here would be an unhandled rejection.
      this.deps.reportError(error);
    }
  }

  private rejected(error: unknown): void {
    if (this.ended) return;
    try {
      this.busy = false;
      this.finish(this.current, errorOutcome(this.codec, error));
      this.drain();
    } catch (failure) {
      this.deps.reportError(failure);
    }
  }

  private enqueue(f: MsgFrame, bytes: number): void {
    this.queue.push(f);
    this.costs.push(bytes);
    this.queuedBytes += bytes;
    // Over the bound: stop reading until the handler catches up. What was read already (the rest
    // of one socket read) still queues, so the bound is exceeded by at most that.
    if (this.queuedBytes > this.deps.options.maxInboundBytes) this.link?.pauseReading(ReadPause.Queued);
  }

  /** Hand queued messages to the handler while it is free and the socket takes writes (called again when it drains). */
  drain(): void {
    while (!this.busy && !this.ended) {
      if (this.link?.writable === false) return;
      const f = this.queue.shift();
      if (f === undefined) break;
      this.queuedBytes -= this.costs.shift() as number;
      this.handle(f);
    }
    // Half the bound, so one message more does not pause the socket again at once.
    if (this.queuedBytes <= this.deps.options.maxInboundBytes / 2) this.link?.resumeReading(ReadPause.Queued);
    if (!this.busy) this.notifyIdle();
  }

  private drainReporting(): void {
    try {
      this.drain();
    } catch (error) {
      this.deps.reportError(error);
    }
  }

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
    this.answer(seq, outcome);
  }

  private answerDuplicate(seq: number): void {
    // Still queued or running: its ack follows when the handler finishes.
    if (seq > this.done || this.ended) return;
    // Answered on this connection already: 4096 copies of one message get one answer, not 4096.
    if (this.link === undefined || seq <= this.duplicatesAnswered) return;
    this.duplicatesAnswered = seq;
    this.answer(seq, this.results.get(seq) ?? evicted(this.codec));
  }

  /** Into the run of acks on the connection; detached, the outcome waits in the cache for the client's retransmission. */
  private answer(seq: number, outcome: Outcome): void {
    if (this.link !== undefined) this.acks.add(seq, outcome, this.link);
  }
}
