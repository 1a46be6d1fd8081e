import { joinFrames } from './codec.js';

/**
 * Coalesces the frames written during one turn of the event loop into one WebSocket message:
 * fewer messages is the main lever on throughput (DESIGN.md), and flushing in a microtask means a
 * lone frame is never held back by a timer.
 */
export class FrameWriter {
  private pending: string[] = [];
  private size = 0;
  private scheduled = false;
  private readonly flushBound = () => {
    this.scheduled = false;
    this.flush();
  };

  /**
   * @param sink writes one WebSocket message.
   * @param maxChars a batch is flushed early once it would pass this many characters.
   */
  constructor(
    private readonly sink: (message: string) => void,
    public maxChars = 256 * 1024,
    /** Runs at the start of every flush, so a producer can push a frame it aggregated (a run of acks). */
    private readonly beforeFlush?: () => void,
  ) {}

  /** Frames waiting for the next flush. */
  get length(): number {
    return this.pending.length;
  }

  push(encoded: string): void {
    if (this.size + encoded.length > this.maxChars && this.pending.length > 0) this.flush();
    this.pending.push(encoded);
    this.size += encoded.length;
    this.schedule();
  }

  /** Ask for a flush at the end of this turn without pushing a frame yet (see `beforeFlush`). */
  schedule(): void {
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flushBound);
    }
  }

  flush(): void {
    this.beforeFlush?.();
    if (this.pending.length === 0) return;
    const message = joinFrames(this.pending);
    this.pending = [];
    this.size = 0;
    this.sink(message);
  }

  /** Drop what has not been flushed (the socket it was meant for is gone). */
  discard(): void {
    this.pending = [];
    this.size = 0;
  }
}
