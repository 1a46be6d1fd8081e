import { now as monotonic } from '@lifeline/protocol/internal';
import type { ConnectionState } from './connection.js';

/** What the heartbeat needs of a connection (a `Connection`). */
export interface HeartbeatPeer {
  readonly state: ConnectionState;
  /** Something arrived since `clearAlive()`. */
  readonly alive: boolean;
  /** A `ping` arrived (and was answered) since `clearAlive()`. */
  readonly pinged: boolean;
  /** Clears `alive` and `pinged`. */
  clearAlive(): void;
  ping(wallNow: number): void;
  terminate(reason: string): void;
  /**
   * Kept by the `Heartbeat`: when the peer was last found alive, and last pinged, in whole
   * milliseconds since the heartbeat was made. Small integers, so they sit in their fields as
   * they are (a fractional monotonic time got a 16-byte heap number box per field and
   * connection); fields of the peer, not a record in a map, which cost ~50 bytes of every idle
   * connection (issue 14). `lastSeen` is negative while the heartbeat does not watch the peer.
   */
  lastSeen: number;
  lastPing: number;
}

/**
 * Pings every open connection each `intervalMs` and drops the ones silent for `timeoutMs`
 * (protocol.md, `ping`/`pong`), with ONE interval timer for all of them. Any inbound message,
 * and any bytes of one still arriving (`Connection`), counts as life: the connection sets a
 * flag, and the sweep turns the flag into a time, so no clock is read per message. A drop is
 * noticed at most two sweeps late, never early.
 *
 * A drop waits one turn of I/O: after the event loop was blocked (a long handler, a GC pause, a
 * starved CPU), Node runs the sweep before it reads the sockets, and the frames that arrived
 * during the block would otherwise count as silence.
 *
 * A peer's `ping`, answered at once, stands for one of ours (`answeredCounts`): that exchange
 * proves the link both ways, so our next ping is due `intervalMs` after the sweep that saw the
 * peer's. A client pinging at our interval gets no ping from us, and an idle session costs two
 * messages per interval instead of four (their writes were nearly all of its idle CPU: issue
 * 14). The peer still hears from us within `intervalMs` plus one sweep; a peer that never pings
 * gets ours every `intervalMs`, as before.
 */
export class Heartbeat {
  /** Peers watched: those of `peers` that `add` was given and `delete` was not. */
  private watched = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly tickMs: number;
  private readonly answeredCounts: boolean;
  /** The monotonic time the peers' `lastSeen`/`lastPing` count from. */
  private readonly base = monotonic();

  constructor(
    /**
     * Every connection of the server, watched or not: the sweep walks the server's own set, as a
     * set of its own cost an entry (~25 bytes) of every idle connection (issue 14).
     */
    private readonly peers: ReadonlySet<HeartbeatPeer>,
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
    private readonly wallNow: () => number,
    private readonly onError: (error: unknown) => void,
    /**
     * Whether a ping the peer sent may stand for ours. The caller passes false when something
     * wants the clock samples only our pings give (a plugin's `onClock`).
     */
    answeredCounts = true,
  ) {
    this.tickMs = Math.max(5, Math.floor(Math.min(intervalMs, timeoutMs) / 4));
    // Our ping may come one sweep later after the peer's last message than before: only where
    // the timeout leaves that sweep and another for the round trip.
    this.answeredCounts = answeredCounts && timeoutMs >= intervalMs + 2 * this.tickMs;
  }

  /** Watch an open connection of `peers`: pinged each `intervalMs`, dropped after `timeoutMs` of silence. */
  add(conn: HeartbeatPeer): void {
    if (conn.lastSeen >= 0) return;
    // Rounded up, as the sweep keeps them (see there).
    const t = Math.ceil(monotonic() - this.base);
    conn.clearAlive();
    conn.lastSeen = t;
    conn.lastPing = t;
    this.watched++;
    if (this.timer === undefined) {
      this.timer = setInterval(this.sweep, this.tickMs);
      // Heartbeats alone must not keep the process alive.
      this.timer.unref();
    }
  }

  /** Stop watching `conn` (a no-op for one not watched). */
  delete(conn: HeartbeatPeer): void {
    if (conn.lastSeen < 0) return;
    conn.lastSeen = -1;
    if (--this.watched === 0) this.stop();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private readonly sweep = (): void => {
    // Times are kept rounded up and read rounded down, so an elapsed time is never overstated.
    const since = monotonic() - this.base;
    const t = Math.floor(since);
    const mark = Math.ceil(since);
    const wall = this.wallNow();
    let suspects: HeartbeatPeer[] | undefined;
    for (const conn of this.peers) {
      try {
        if (conn.state !== 'open' || conn.lastSeen < 0) continue;
        if (conn.alive) {
          if (conn.pinged && this.answeredCounts) conn.lastPing = mark;
          conn.clearAlive();
          conn.lastSeen = mark;
        } else if (t - conn.lastSeen >= this.timeoutMs) {
          (suspects ??= []).push(conn);
          continue;
        }
        if (t - conn.lastPing >= this.intervalMs) {
          conn.lastPing = mark;
          conn.ping(wall);
        }
      } catch (error) {
        this.onError(error);
      }
    }
    if (suspects !== undefined) setImmediate(this.drop, suspects);
  };

  private readonly drop = (suspects: HeartbeatPeer[]): void => {
    for (const conn of suspects) {
      try {
        if (conn.state !== 'open' || conn.alive || conn.lastSeen < 0) continue;
        // Half-open links never deliver a close; terminate, and the session waits for a resume.
        this.delete(conn);
        conn.terminate(`no frame for ${this.timeoutMs} ms`);
      } catch (error) {
        this.onError(error);
      }
    }
  };
}
