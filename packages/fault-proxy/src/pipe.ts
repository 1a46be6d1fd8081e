import type { Socket } from 'node:net';

/** How bytes travel through one direction of a proxied connection, read at every chunk. */
export interface PipeMode {
  /** Drop every byte (a link that went silent while both sockets stay open). */
  silent: boolean;
  /** Forward nothing and stop reading, keeping every byte for later (a peer that stalls, then answers). */
  held: boolean;
  /** Forward at most this many bytes per write, one write per event-loop turn. 0 = as received. */
  fragmentBytes: number;
  /** Hold each chunk this many ms (plus up to `jitterMs`) before forwarding, order kept. */
  delayMs: number;
  jitterMs: number;
  /** Forward at most this many bytes per second, in 20 ms steps, order kept. 0 = no limit. */
  bytesPerSecond: number;
}

/**
 * One direction of a proxied TCP connection. Chunks are forwarded strictly in order even when
 * delayed or fragmented: a WebSocket stream with reordered bytes is not a network fault we model.
 */
export class Pipe {
  private readonly queue: Buffer[] = [];
  private busy = false;
  bytes = 0;

  constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly mode: () => PipeMode,
    private readonly random: () => number,
    private readonly onDrop: (bytes: number) => void,
  ) {
    from.on('data', (chunk: Buffer) => {
      if (this.mode().silent) {
        this.onDrop(chunk.length);
        return;
      }
      this.queue.push(chunk);
      // While held, TCP backpressure bounds what waits: one chunk here, the rest in the kernel.
      if (this.mode().held) from.pause();
      else if (!this.busy) void this.drain();
    });
  }

  /** The hold ended: forward what waited, in order, and read again. */
  release(): void {
    this.from.resume();
    if (!this.busy && this.queue.length > 0) void this.drain();
  }

  private async drain(): Promise<void> {
    this.busy = true;
    try {
      while (this.queue.length > 0) {
        if (this.mode().held) return;
        if (this.to.destroyed) {
          this.queue.length = 0;
          return;
        }
        const chunk = this.queue.shift() as Buffer;
        const m = this.mode();
        if (m.silent) continue;
        const wait = m.delayMs + (m.jitterMs > 0 ? Math.floor(this.random() * m.jitterMs) : 0);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (m.bytesPerSecond > 0) {
          // A slow link: a step of bytes, then the time that step takes at the rate.
          const step = Math.max(1, Math.floor(m.bytesPerSecond / 50));
          for (let i = 0; i < chunk.length && !this.to.destroyed; i += step) {
            const piece = chunk.subarray(i, i + step);
            this.write(piece);
            await new Promise((r) => setTimeout(r, (1000 * piece.length) / m.bytesPerSecond));
          }
        } else if (m.fragmentBytes > 0) {
          for (let i = 0; i < chunk.length && !this.to.destroyed; i += m.fragmentBytes) {
            this.write(chunk.subarray(i, i + m.fragmentBytes));
            // A turn of the loop between pieces so the peer reads them as separate segments.
            await new Promise((r) => setImmediate(r));
          }
        } else {
          this.write(chunk);
        }
      }
    } finally {
      this.busy = false;
    }
  }

  private write(piece: Buffer): void {
    if (this.to.destroyed || this.mode().silent) return;
    this.bytes += piece.length;
    this.to.write(piece);
  }
}
