import type { FrameEncoder } from './encoder.js';
import { afterIo } from './timers.js';

const settled = Promise.resolve();

/**
 * Runs `fn` once this turn's synchronous work is done (a microtask). `queueMicrotask` would do,
 * but Node wraps every callback it is given in an `AsyncResource` (async_hooks bookkeeping, a
 * bound function): measurably more per call than one promise reaction, and a flush happens once
 * per message in a request/reply exchange. `fn` must not throw (it would be an unhandled rejection).
 */
export function atTurnEnd(fn: () => void): void {
  void settled.then(fn);
}

/**
 * Writers whose flush is due at the end of this turn, all flushed by one promise reaction: a
 * bound flush callback per writer was 56 bytes of every idle server session (issue 14). Two
 * lists swap, so a flush scheduled while the due ones run goes into the next turn's list.
 */
interface TurnEnd {
  turnEnded(): void;
}
let due: TurnEnd[] = [];
let spare: TurnEnd[] = [];

function flushDue(): void {
  const list = due;
  due = spare;
  spare = list;
  for (let i = 0; i < list.length; i++) (list[i] as TurnEnd).turnEnded();
  list.length = 0;
}

function flushAtTurnEnd(writer: TurnEnd): void {
  if (due.push(writer) === 1) atTurnEnd(flushDue);
}

/**
 * Runs `fn` at the end of this macrotask: after the microtasks it queues, and in Node after the
 * I/O callbacks of this poll phase.
 */
const atMacrotaskEnd = afterIo;

/**
 * Frames after which a batch leaves at once. Large enough that a window of 1,024 small messages
 * goes as a few WebSocket messages (not one per frame), small enough that the first leaves early.
 */
export const EAGER_FRAMES = 256;

/**
 * The most a batch of frames may weigh (`codec.size` units: characters of JSON, bytes of
 * MessagePack); a single larger frame still goes alone. A browser's heartbeat sees only whole
 * messages (Node sides count bytes too), so no message may take longer than its timeout on a slow
 * link: at 256 KiB a backlog became one message that a slow link could not carry within the
 * timeout, and every reconnect sent it again (tests/integration `slow-link.test.ts`). 64 KiB
 * crosses the default 30 s timeout at 2.2 kB/s; small frames are flushed at `EAGER_FRAMES` before
 * they reach it (16 KiB cost ~15 % of the two-process windowed throughput in
 * `bench/src/shape-probe.mjs`; 64 KiB, nothing measurable).
 */
export const MAX_BATCH_SIZE = 64 * 1024;

/** Where a part writes its frames: a `FrameWriter` as the parts that write through it see it. */
export interface FrameSink<W> {
  push(frame: W): void;
  /** Ask for a flush at the end of this turn without pushing a frame (a `FlushProducer` has one waiting). */
  schedule(): void;
}

/** What a `FrameWriter` may write its messages to, beside a plain function. */
export interface MessageSink<W> {
  writeMessage(message: W): void;
  /**
   * The writer flushed at its turn's end and holds nothing, nor is it due again: its owner may let
   * it go until its next frame (a server connection returns it to a pool, `reuse`).
   */
  writerIdle?(writer: FrameWriter<W>): void;
}

/**
 * A part that aggregates what it has to say between flushes (a run of acks, a cumulative
 * `cack`) into one frame, which the writer pulls at the start of every flush: the frame joins
 * the batch of the turn, and the producer never needs to be called back by the writer's owner.
 */
export interface FlushProducer<W> {
  /** The frame aggregated since the last pull, if any; the producer starts over empty. */
  takeFrame(): W | undefined;
  /**
   * True while the producer holds a frame and expects to add to it soon (an ack run whose next
   * handler is running): the writer then flushes at the end of the macrotask instead of the
   * microtask, once (see `FrameWriter`'s linger). A method, not a closure: a server session's
   * producer is one per session, and a closure with its context is ~100 bytes of each (issue 14).
   */
  lingers?(): boolean;
}

/**
 * Coalesces the frames written during one turn of the event loop into one WebSocket message:
 * fewer messages is the main lever on throughput (DESIGN.md), and flushing in a microtask means a
 * lone frame is never held back by a timer. Frames and the message are the codec's units (`W`):
 * a lone frame goes as it is, more are joined by `codec.batch`, sizes are `codec.size`.
 *
 * Linger: when the flush is due and `linger()` says more frames are on their way (a queue of
 * async handlers, each settling in a microtask of its own: issue 14 saw 100 acks of one batch go
 * as 100 messages), the flush waits once, for the end of the macrotask, and no longer. A lone
 * frame has nothing behind it, so it still leaves in the microtask.
 */
export class FrameWriter<W> implements FrameSink<W> {
  /**
   * The frames of the batch being built: made at its first frame, let go at its flush. An idle
   * writer holds none (an array kept for the next batch was 32 bytes of every idle server
   * session, issue 14).
   */
  private frames: W[] | undefined = undefined;
  private size = 0;
  private scheduled = false;
  /** The due flush was put off to the end of the macrotask (it happens then, whatever `linger` says). */
  private lingered = false;
  private linger: (() => boolean) | undefined;

  /**
   * @param codec encodes the batch and measures the frames.
   * @param sink writes one WebSocket message: a function, or an object whose `writeMessage` does
   * (a server connection is its own sink, which spares it a closure: issue 14).
   * @param maxSize a batch is flushed early once it would pass this size (`codec.size` units).
   */
  constructor(
    private codec: FrameEncoder<W>,
    private sink: ((message: W) => void) | MessageSink<W>,
    public maxSize = MAX_BATCH_SIZE,
    /**
     * Pulled at the start of every flush, so the frame it aggregated joins the batch. A function
     * instead runs there and may push what it likes (the hook form; a producer says what it is).
     */
    private producer?: FlushProducer<W> | (() => void),
    /** Asked when a flush is due: true when frames are on their way, so it may wait for the end of the macrotask. */
    linger?: () => boolean,
    /** A batch that holds this many frames is flushed at once, without waiting for the turn's end. */
    public eagerFrames = EAGER_FRAMES,
  ) {
    this.linger = linger;
  }

  /**
   * Serve another owner: an idle writer (see `MessageSink.writerIdle`) takes a new codec, sink
   * and producer, with the default size bounds.
   */
  reuse(codec: FrameEncoder<W>, sink: MessageSink<W>, producer: FlushProducer<W> | undefined): void {
    if (this.scheduled || this.frames !== undefined) throw new Error('FrameWriter reused while busy');
    this.codec = codec;
    this.sink = sink;
    this.producer = producer;
    this.linger = undefined;
    this.maxSize = MAX_BATCH_SIZE;
    this.eagerFrames = EAGER_FRAMES;
  }

  /** The constructor's `linger`, else the producer's own answer. */
  private lingers(): boolean {
    if (this.linger !== undefined) return this.linger();
    const producer = this.producer;
    return typeof producer === 'object' && producer.lingers !== undefined && producer.lingers();
  }

  /**
   * From now on, pull `producer`'s frame at every flush (`undefined`: pull from none). A writer
   * that outlives what its producer serves stops pulling, or it would take frames meant for
   * another writer.
   */
  pullFrom(producer: FlushProducer<W> | undefined): void {
    this.producer = producer;
  }

  /** Pull the producer's frame into the batch now, ahead of a frame that must follow it (a `bye`). */
  gather(): void {
    const producer = this.producer;
    if (typeof producer === 'function') producer();
    else if (producer !== undefined) this.pull(producer);
  }

  push(frame: W): void {
    this.add(frame);
    // A long synchronous run of writes (a burst of send()s filling the window) puts its first
    // frames on the wire now, so the peer starts on them while the run goes on (issue 14).
    if ((this.frames as W[]).length >= this.eagerFrames) this.flush();
    else this.schedule();
  }

  /** `frame` joins this batch, or the next one when it would pass `maxSize`. */
  private add(frame: W): void {
    const size = this.codec.size(frame);
    if (this.frames !== undefined && this.size + size > this.maxSize) this.flush();
    (this.frames ??= []).push(frame);
    this.size += size;
  }

  /** Ask for a flush at the end of this turn without pushing a frame yet (a `FlushProducer` has one waiting). */
  schedule(): void {
    if (!this.scheduled) {
      this.scheduled = true;
      flushAtTurnEnd(this);
    }
  }

  /** The flush scheduled for this turn's end is due (`flushDue`), or, once lingered, the macrotask's. */
  turnEnded(): void {
    try {
      if (!this.lingered && this.lingers()) {
        this.lingered = true;
        atMacrotaskEnd(() => this.turnEnded());
        return;
      }
      this.scheduled = false;
      this.lingered = false;
      this.flush();
      const sink = this.sink;
      if (!this.scheduled && this.frames === undefined && typeof sink === 'object' && sink.writerIdle !== undefined) sink.writerIdle(this);
    } catch (error) {
      // One writer's failure must not hold back the others flushed in the same reaction, nor
      // leave this one scheduled for ever; it surfaces as queueMicrotask would (an uncaught
      // exception), not as an unhandled rejection.
      this.scheduled = false;
      this.lingered = false;
      queueMicrotask(() => {
        throw error;
      });
    }
  }

  flush(): void {
    this.gather();
    const frames = this.frames;
    if (frames === undefined) return;
    const message = frames.length === 1 ? (frames[0] as W) : this.codec.batch(frames);
    this.discard();
    const sink = this.sink;
    if (typeof sink === 'function') sink(message);
    else sink.writeMessage(message);
  }

  /** The producer's frame joins this batch (or the next one, when it would pass `maxSize`). */
  private pull(producer: FlushProducer<W>): void {
    const frame = producer.takeFrame();
    if (frame !== undefined) this.add(frame);
  }

  /** Drop what has not been flushed (the socket it was meant for is gone). */
  discard(): void {
    this.frames = undefined;
    this.size = 0;
  }
}
