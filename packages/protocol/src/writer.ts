import type { FrameEncoder } from './encoder.js';

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
 * Coalesces the frames written during one turn of the event loop into one WebSocket message:
 * fewer messages is the main lever on throughput (DESIGN.md), and flushing in a microtask means a
 * lone frame is never held back by a timer. Frames and the message are the codec's units (`W`):
 * a lone frame goes as it is, more are joined by `codec.batch`, sizes are `codec.size`.
 */
export class FrameWriter<W> {
  /** The frames of the batch being built; the same array for every batch (the codec copies what it joins). */
  private readonly frames: W[] = [];
  private size = 0;
  private scheduled = false;
  private readonly flushBound = () => {
    this.scheduled = false;
    try {
      this.flush();
    } catch (error) {
      // Surface it as queueMicrotask would (an uncaught exception), not as an unhandled rejection.
      queueMicrotask(() => {
        throw error;
      });
    }
  };

  /**
   * @param codec encodes the batch and measures the frames.
   * @param sink writes one WebSocket message.
   * @param maxSize a batch is flushed early once it would pass this size (`codec.size` units).
   */
  constructor(
    readonly codec: FrameEncoder<W>,
    private readonly sink: (message: W) => void,
    public maxSize = 256 * 1024,
    /** Runs at the start of every flush, so a producer can push a frame it aggregated (a run of acks). */
    private readonly beforeFlush?: () => void,
  ) {}

  push(frame: W): void {
    const size = this.codec.size(frame);
    if (this.frames.length > 0 && this.size + size > this.maxSize) this.flush();
    this.frames.push(frame);
    this.size += size;
    this.schedule();
  }

  /** Ask for a flush at the end of this turn without pushing a frame yet (see `beforeFlush`). */
  schedule(): void {
    if (!this.scheduled) {
      this.scheduled = true;
      atTurnEnd(this.flushBound);
    }
  }

  flush(): void {
    this.beforeFlush?.();
    const frames = this.frames;
    const n = frames.length;
    if (n === 0) return;
    const message = n === 1 ? (frames[0] as W) : this.codec.batch(frames);
    this.discard();
    this.sink(message);
  }

  /** Drop what has not been flushed (the socket it was meant for is gone). */
  discard(): void {
    this.frames.length = 0;
    this.size = 0;
  }
}
