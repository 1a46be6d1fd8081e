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
 * lone frame is never held back by a timer.
 */
export class FrameWriter {
  /** The first frame of the batch; `rest` holds the others (no array for a lone frame). */
  private first: string | undefined = undefined;
  private rest: string[] | undefined = undefined;
  private count = 0;
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
   * @param sink writes one WebSocket message.
   * @param maxChars a batch is flushed early once it would pass this many characters.
   */
  constructor(
    private readonly sink: (message: string) => void,
    public maxChars = 256 * 1024,
    /** Runs at the start of every flush, so a producer can push a frame it aggregated (a run of acks). */
    private readonly beforeFlush?: () => void,
  ) {}

  push(encoded: string): void {
    if (this.count > 0 && this.size + encoded.length > this.maxChars) this.flush();
    if (this.count === 0) this.first = encoded;
    else (this.rest ??= []).push(encoded);
    this.count++;
    this.size += encoded.length;
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
    if (this.count === 0) return;
    const first = this.first as string;
    const rest = this.rest;
    // joinFrames' batch format, without building an array for a lone frame.
    const message = rest === undefined ? first : `[${first},${rest.join(',')}]`;
    this.first = undefined;
    this.rest = undefined;
    this.count = 0;
    this.size = 0;
    this.sink(message);
  }

  /** Drop what has not been flushed (the socket it was meant for is gone). */
  discard(): void {
    this.first = undefined;
    this.rest = undefined;
    this.count = 0;
    this.size = 0;
  }
}
