import { now as monotonic } from '@lifeline/protocol/internal';
import type { Connection } from './connection.js';

/**
 * Pings every open connection each `intervalMs` and drops the ones silent for `timeoutMs`
 * (protocol.md, `ping`/`pong`), with ONE interval timer for all of them. Any inbound message
 * counts as life: the connection sets a flag, and the sweep turns the flag into a time, so no
 * clock is read per message. A drop is noticed at most two sweeps late, never early.
 *
 * A drop waits one turn of I/O: after the event loop was blocked (a long handler, a GC pause, a
 * starved CPU), Node runs the sweep before it reads the sockets, and the frames that arrived
 * during the block would otherwise count as silence.
 */
export class Heartbeat {
  private readonly connections = new Set<Connection>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly tickMs: number;

  constructor(
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
    private readonly wallNow: () => number,
    private readonly onError: (error: unknown) => void,
  ) {
    this.tickMs = Math.max(5, Math.floor(Math.min(intervalMs, timeoutMs) / 4));
  }

  get size(): number {
    return this.connections.size;
  }

  add(conn: Connection): void {
    const t = monotonic();
    conn.alive = false;
    conn.lastSeen = t;
    conn.lastPing = t;
    this.connections.add(conn);
    if (this.timer === undefined) {
      this.timer = setInterval(this.sweep, this.tickMs);
      // Heartbeats alone must not keep the process alive.
      this.timer.unref();
    }
  }

  delete(conn: Connection): void {
    this.connections.delete(conn);
    if (this.connections.size === 0) this.stop();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private readonly sweep = (): void => {
    const t = monotonic();
    const wall = this.wallNow();
    let suspects: Connection[] | undefined;
    for (const conn of this.connections) {
      try {
        if (conn.state !== 'open') continue;
        if (conn.alive) {
          conn.alive = false;
          conn.lastSeen = t;
        } else if (t - conn.lastSeen >= this.timeoutMs) {
          (suspects ??= []).push(conn);
          continue;
        }
        if (t - conn.lastPing >= this.intervalMs) {
          conn.lastPing = t;
          conn.ping(wall);
        }
      } catch (error) {
        this.onError(error);
      }
    }
    if (suspects !== undefined) setImmediate(this.drop, suspects);
  };

  private readonly drop = (suspects: Connection[]): void => {
    for (const conn of suspects) {
      try {
        if (conn.state !== 'open' || conn.alive || !this.connections.has(conn)) continue;
        // Half-open links never deliver a close; terminate, and the session waits for a resume.
        this.connections.delete(conn);
        conn.terminate(`no frame for ${this.timeoutMs} ms`);
      } catch (error) {
        this.onError(error);
      }
    }
  };
}
