import { type Codec } from '@lifeline/protocol';
import { MAX_BATCHED_RESULT_DEPTH, type FlushProducer, type FrameSink } from '@lifeline/protocol/internal';
import { ErrorOutcome, ackFrame, type Outcome } from './results.js';

/** What an `AckRun` asks of its session's inbound part. */
export interface Answering {
  /** A handler is running whose ack would join the run. */
  readonly answering: boolean;
}

const NEVER_ANSWERING: Answering = { answering: false };

/** A run of successful acks is cut into frames of about this many characters (codec size units). */
const MAX_RUN_CHARS = 64 * 1024;

/**
 * The acks of one session's connection, aggregated (protocol.md, `ack` and `acks`): consecutive
 * successful outcomes become one `acks` frame, which the connection's writer pulls at its next
 * flush (a `FlushProducer`), so a burst of answers costs one frame and joins the turn's batch.
 * What cannot join the run goes at once, after the run it cuts, so the client reads outcomes in
 * seq order: an error, a result nested too deep for `acks.r` (62 levels; `ack.r` takes 63), a
 * seq that does not follow the run, and a run past `MAX_RUN_CHARS`.
 */
export class AckRun implements FlushProducer<unknown> {
  private first = 0;
  /** Results encoded in the session's codec, each within `acks.r`'s nesting bound. */
  private results: unknown[] = [];
  private chars = 0;

  /**
   * @param handler `answering` is true while a handler runs whose ack would join this run: the
   * writer may then hold the run until the end of the macrotask (a queue of async handlers each
   * settles in a microtask of its own; without this, each ack went as its own WebSocket message).
   * The session's inbound part itself, not a closure over it (issue 14: memory per idle session).
   */
  constructor(
    private readonly codec: Codec,
    private readonly handler: Answering = NEVER_ANSWERING,
  ) {}

  /** The writer's question at a due flush: is there a run, and will it grow before the macrotask ends? */
  lingers(): boolean {
    return this.results.length > 0 && this.handler.answering;
  }

  /** Answer `seq` with `outcome`: joins the run (written at the next flush of `out`), or goes to `out` now. */
  add(seq: number, outcome: Outcome, out: FrameSink<unknown>): void {
    const codec = this.codec;
    if (outcome instanceof ErrorOutcome || !codec.nestsWithin(outcome, MAX_BATCHED_RESULT_DEPTH)) {
      this.cut(out);
      out.push(ackFrame(codec, seq, outcome));
      return;
    }
    if (this.results.length > 0 && seq !== this.first + this.results.length) this.cut(out);
    if (this.results.length === 0) this.first = seq;
    this.results.push(outcome);
    this.chars += codec.size(outcome);
    if (this.chars >= MAX_RUN_CHARS) this.cut(out);
    else out.schedule();
  }

  /** The run as one frame (`ack` for one outcome, `acks` for more), pulled by the writer at its flush. */
  takeFrame(): unknown {
    const n = this.results.length;
    if (n === 0) return undefined;
    const frame = n === 1 ? this.codec.ack(this.first, this.results[0]) : this.codec.acks(this.first, this.results);
    this.clear();
    return frame;
  }

  /** Forget the run: its connection is gone (the outcomes stay cached for retransmissions). */
  clear(): void {
    this.results = [];
    this.chars = 0;
  }

  private cut(out: FrameSink<unknown>): void {
    const frame = this.takeFrame();
    if (frame !== undefined) out.push(frame);
  }
}
