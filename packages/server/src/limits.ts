import { CloseCode, type PluginContext } from '@lifeline/protocol';
import { Deadlines, now as monotonic, type PluginHost } from '@lifeline/protocol/internal';
import { HIGH_WATER_BYTES, type Connection } from './connection.js';
import { noSessionContext, type ConnectionLimits, type ServedSession } from './connection-hooks.js';
import type { ResolvedOptions } from './options.js';
import { TokenBucket } from './rate-limit.js';
import type { SessionCounts } from './registry.js';

/** Which limit a connection broke (the server's `limit` event). */
export type LimitKind = 'pending-handshakes' | 'sessions' | 'identity-sessions' | 'rate' | 'slow-client';

/** A connection refused or shed by a limit, as the server's `limit` event reports it. */
export interface LimitInfo {
  readonly limit: LimitKind;
  /**
   * The close code: 1013 (`pending-handshakes`, `sessions`, `identity-sessions`), 4429 (`rate`),
   * 1006 (`slow-client`, terminated); 503, an HTTP status, for a TCP connection refused before
   * its upgrade.
   */
  readonly code: number;
  readonly reason: string;
  /** The session the connection held, when it had one. */
  readonly sessionId: string | undefined;
  /** `bye.retryMs` sent with 1013 and 4429. */
  readonly retryMs?: number;
  /** `rate`: frames in the refused WebSocket message (none of them was handled). */
  readonly frames?: number;
  /** `slow-client`: bytes waiting in the socket when it was terminated. */
  readonly bufferedBytes?: number;
}

/**
 * After our close frame, how long a peer gets to answer before its socket is destroyed: a flood
 * of sockets that never answer (closed by a limit, for bad input, or replaced by a resume) must
 * not hold descriptors and buffers for `ws`'s 30 s.
 */
const CLOSE_GRACE_MS = 1_000;

/**
 * The server's abuse limits (docs/reliability.md, "Abuse and soak"): admission of connections
 * and sessions, a rate limit per connection and per session, and shedding of clients that do
 * not read (the client window is the inbound part's). Everything here runs on timers shared by all connections: one
 * sweep for slow clients, one deadline set for close handshakes.
 */
export class Limits implements ConnectionLimits {
  /** Whether frames are counted at all (`rateLimit` is not `false`). */
  readonly rated: boolean;
  private readonly sessionBuckets = new WeakMap<ServedSession, TokenBucket>();
  private readonly connectionBuckets = new WeakMap<Connection, TokenBucket>();
  /** Monotonic ms since when a connection has been over the high-water mark (the sweep's samples). */
  private readonly overSince = new WeakMap<Connection, number>();
  private readonly closeGrace: Deadlines<Connection>;
  private readonly sweepMs: number;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly plugins: PluginHost,
    /** Every connection of the server (the sweep walks it). */
    private readonly connections: ReadonlySet<Connection>,
    private readonly report: (info: LimitInfo) => void,
    private readonly onError: (error: unknown) => void,
  ) {
    this.rated = options.rateLimit !== false;
    this.closeGrace = new Deadlines((conn) => {
      if (conn.state !== 'closed') conn.terminate('no close handshake within the grace');
    }, { resolutionMs: 100 });
    // A quarter of the timeout, so shedding is at most 25 % late; never busier than 5 ms, never lazier than 1 s.
    this.sweepMs = Math.max(5, Math.min(1_000, Math.floor(options.slowClientTimeoutMs / 4)));
  }

  /** A connection was upgraded; false when it was refused (too many handshakes pending). */
  admitConnection(conn: Connection, pendingHandshakes: number): boolean {
    this.watch();
    const max = this.options.maxPendingHandshakes;
    if (pendingHandshakes < max) return true;
    this.refuse(conn, 'pending-handshakes', `server busy: ${max} handshakes pending`);
    return false;
  }

  /** An upgraded connection whose address already holds `maxPendingHandshakesPerAddress`: refused with 1013. */
  refuseAddress(conn: Connection): void {
    this.watch();
    this.refuse(conn, 'pending-handshakes', `server busy: ${this.options.maxPendingHandshakesPerAddress} handshakes pending from this address`);
  }

  /**
   * A `hello` would start a new session; false when it was refused. `identityHash` is given when
   * `authenticate` is set: an identity at `maxSessionsPerIdentity` makes room by ending its
   * session detached the longest, or is refused when all of its sessions are attached (a
   * detached one is the likeliest abandoned; an attached one is in use). Then `maxSessions`.
   */
  admitSession(conn: Connection, sessions: SessionCounts, identityHash: string | undefined): boolean {
    const perIdentity = this.options.maxSessionsPerIdentity;
    if (identityHash !== undefined && sessions.countOf(identityHash) >= perIdentity) {
      const oldest = sessions.oldestDetached(identityHash);
      if (oldest === undefined) {
        this.refuse(conn, 'identity-sessions', `too many sessions: this identity already has ${perIdentity} connected`);
        return false;
      }
      oldest.end('evicted', undefined);
    }
    const max = this.options.maxSessions;
    if (sessions.size < max) return true;
    this.refuse(conn, 'sessions', `server busy: ${max} sessions`);
    return false;
  }

  /**
   * Charge `frames` to the connection's bucket (its session's, once it has one). False when the
   * rate limit is broken: the connection got `bye` 4429 and is closing, and none of the frames
   * may be handled (the client retransmits them after its resume).
   */
  admitFrames(conn: Connection, frames: number): boolean {
    const limit = this.options.rateLimit;
    if (limit === false) return true;
    const t = monotonic();
    const session = conn.session;
    let bucket = session !== undefined ? this.sessionBuckets.get(session) : this.connectionBuckets.get(conn);
    if (bucket === undefined) {
      bucket = new TokenBucket(limit, t);
      if (session !== undefined) this.sessionBuckets.set(session, bucket);
      else this.connectionBuckets.set(conn, bucket);
    }
    if (bucket.take(frames, t)) return true;
    const retryMs = bucket.refillMs(t);
    const reason = `rate limit: more than ${limit.messagesPerSecond} frames/s (burst ${limit.burst})`;
    if (this.plugins.active) this.plugins.onDrop({ reason: 'rate-limit', count: frames, at: t }, contextOf(conn));
    this.report({ limit: 'rate', code: CloseCode.RateLimited, reason, sessionId: session?.id, retryMs, frames });
    conn.goodbye(CloseCode.RateLimited, reason, retryMs);
    return false;
  }

  /**
   * `conn` was closed by us (`Connection.close` calls this for every close the server starts):
   * if the peer has not finished the close handshake within `CLOSE_GRACE_MS`, destroy the socket.
   */
  linger(conn: Connection): void {
    if (conn.state !== 'closed') this.closeGrace.add(conn, monotonic() + CLOSE_GRACE_MS);
  }

  /** Stop the sweep and the close-grace timer (server shutdown). */
  stop(): void {
    this.stopSweep();
    this.closeGrace.clear();
  }

  private stopSweep(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Start the slow-client sweep with the first connection; it stops itself when none is left. */
  private watch(): void {
    if (this.timer !== undefined || this.options.slowClientTimeoutMs === Infinity) return;
    this.timer = setInterval(this.sweep, this.sweepMs);
    this.timer.unref();
  }

  /** `bye` 1013 with `overloadRetryMs`, then close 1013; reported as a limit and to plugins as a protocol error. */
  private refuse(conn: Connection, limit: 'pending-handshakes' | 'sessions' | 'identity-sessions', reason: string): void {
    const retryMs = this.options.overloadRetryMs;
    if (this.plugins.active) this.plugins.onProtocolError({ closeCode: CloseCode.TryAgainLater, message: reason, at: monotonic() }, contextOf(conn));
    this.report({ limit, code: CloseCode.TryAgainLater, reason, sessionId: undefined, retryMs });
    conn.goodbye(CloseCode.TryAgainLater, reason, retryMs);
  }


  /**
   * One pass over every open connection: one whose socket has stayed above the high-water mark
   * for `slowClientTimeoutMs` (sampled each pass) is terminated. Its session stays resumable,
   * and what it had not acknowledged is replayed when the client comes back.
   */
  private readonly sweep = (): void => {
    if (this.connections.size === 0) {
      this.stopSweep();
      return;
    }
    const t = monotonic();
    const timeoutMs = this.options.slowClientTimeoutMs;
    for (const conn of this.connections) {
      try {
        if (conn.state !== 'open') continue;
        const buffered = conn.bufferedBytes;
        if (buffered <= HIGH_WATER_BYTES) {
          this.overSince.delete(conn);
          continue;
        }
        const since = this.overSince.get(conn);
        if (since === undefined) {
          this.overSince.set(conn, t);
          continue;
        }
        if (t - since < timeoutMs) continue;
        const reason = `slow client: over ${HIGH_WATER_BYTES} bytes unread for ${timeoutMs} ms`;
        const sessionId = conn.session?.id;
        if (this.plugins.active) this.plugins.onDrop({ reason: 'buffer-full', count: 1, at: t }, contextOf(conn));
        conn.terminate(reason);
        this.report({ limit: 'slow-client', code: 1006, reason, sessionId, bufferedBytes: buffered });
      } catch (error) {
        this.onError(error);
      }
    }
  };
}

function contextOf(conn: Connection): PluginContext {
  return conn.session?.pluginContext ?? noSessionContext;
}
