import { EventEmitter } from 'eventemitter3';
import type { Codec, PluginContext } from '@lifeline/protocol';
import { now as monotonic } from '@lifeline/protocol/internal';
import type { Connection } from './connection.js';
import type { ServerContext } from './context.js';
import { Inbound } from './inbound.js';
import { Outbound, type SendOptions } from './outbound.js';
import type { SessionRecord } from './store.js';

/**
 * Why a session ended. `evicted`: a newer session of the same identity took its place while it
 * was detached (`maxSessionsPerIdentity`); its client is answered as for an expired session.
 */
export type SessionCloseReason = 'closed' | 'expired' | 'evicted' | 'server-closed' | 'client-closed';

export interface SessionCloseEvent {
  readonly reason: SessionCloseReason;
}

/** A connection let go of the session; it stays resumable for `resumeWindowMs`. */
export interface SessionDetachEvent {
  /** The close code of the connection (1006 when it was dropped without one). */
  readonly code: number;
  readonly reason: string;
}

export interface SessionEvents {
  /** The session ended; every pending `send()` has been rejected with `ClosedError`. */
  close: (event: SessionCloseEvent) => void;
  /** A connection took the session (the first one, or a resume). */
  attach: () => void;
  detach: (event: SessionDetachEvent) => void;
}

/** `attached` (a connection holds it), `detached` (resumable), `closed` (ended for good). */
export type SessionState = 'attached' | 'detached' | 'closed';

/** One logical conversation with a client; the same object lives across resumes. */
export interface Session extends EventEmitter<SessionEvents> {
  readonly id: string;
  /** What `authenticate` returned for the connection that opened the session (`null` without it). */
  readonly identity: unknown;
  /** Whether a connection holds the session now. */
  readonly connected: boolean;
  readonly state: SessionState;
  /**
   * Send `data` to the client; resolves when the client acknowledges it (`cack`). Stays pending
   * across drops inside the resume window. Rejects with `AckTimeoutError` past its deadline,
   * `AbortError` when `signal` fires, `QueueFullError` when the queue is full with
   * `overflow: 'reject'` (with `'wait'`, once the waiting senders fill `maxQueued` a second
   * time), `ClosedError` when the session ends, and `TypeError` for data JSON cannot encode. A
   * rejection nobody awaits is never reported as unhandled, so fire-and-forget pushes are safe.
   */
  send(data: unknown, options?: SendOptions): Promise<void>;
  /** End the session: the client gets `bye` 4410 and the socket closes with 4410. */
  close(reason?: string): void;
}

/** The server's side of a session; only the `Session` interface is public. */
export class SessionImpl extends EventEmitter<SessionEvents> implements Session {
  readonly pluginContext: PluginContext;
  readonly inbound: Inbound;
  readonly outbound: Outbound;
  connection: Connection | undefined;
  state: SessionState = 'detached';
  /** Monotonic ms when the last connection let go (for `onResume.downtimeMs`). */
  detachedAt = monotonic();

  constructor(
    readonly id: string,
    readonly identity: unknown,
    /** The record as last written to the store. */
    public record: SessionRecord,
    private readonly ctx: ServerContext,
    /** Chosen in the first handshake and kept for life: cached results and queued pushes are encoded in it. */
    readonly codec: Codec,
  ) {
    super();
    this.pluginContext = Object.freeze({ side: 'server', sessionId: id });
    this.inbound = new Inbound(this, ctx);
    this.outbound = new Outbound(this, ctx);
  }

  get connected(): boolean {
    return this.connection !== undefined;
  }

  send(data: unknown, options?: SendOptions): Promise<void> {
    // Checked here until the send queue encodes with `codec.value()`, which refuses it itself
    // (issue 10): a payload the client's decoder would refuse must fail this call, not the link.
    try {
      this.codec.value(data);
    } catch (error) {
      return Promise.reject(error instanceof TypeError ? error : new TypeError(String(error), { cause: error }));
    }
    return this.outbound.send(data, options) as Promise<unknown> as Promise<void>;
  }

  close(reason = 'session closed by the server'): void {
    this.end('closed', 4410, {}, reason);
  }

  /**
   * Take `conn`: announce, replay what the client has not acknowledged (after `ackSeq`, its
   * cumulative ack) within its window `win`. Returns how many messages were retransmitted.
   */
  attach(conn: Connection, win: number | undefined, ackSeq: number): number {
    this.connection = conn;
    this.state = 'attached';
    conn.bind(this);
    this.ctx.registry.attached(this);
    this.ctx.heartbeat.add(conn);
    const replayed = this.outbound.attach(win, ackSeq);
    this.emitSafely('attach');
    return replayed;
  }

  /** `conn` closed or was replaced; a no-op when it no longer holds the session. */
  detachFrom(conn: Connection, code: number, reason: string): void {
    if (this.connection !== conn) return;
    this.connection = undefined;
    this.inbound.connectionLost();
    if (this.state === 'closed') return;
    this.state = 'detached';
    this.detachedAt = monotonic();
    this.ctx.registry.detached(this);
    this.emitSafely('detach', { code, reason });
  }

  /**
   * End for good: close the connection with `closeCode` (after a `bye` with the same code and
   * `closeText` when `bye` is given), reject every pending send, forget the session, and emit `close`.
   */
  end(reason: SessionCloseReason, closeCode: number | undefined, bye?: { readonly retryMs?: number }, closeText: string = reason): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    const conn = this.connection;
    if (conn !== undefined) {
      if (closeCode === undefined) conn.terminate(closeText);
      else if (bye !== undefined) conn.goodbye(closeCode, closeText, bye.retryMs);
      else conn.close(closeCode, closeText);
    }
    this.inbound.end();
    this.outbound.closeAll(reason, closeCode);
    this.ctx.registry.remove(this);
    this.emitSafely('close', { reason });
  }

  private emitSafely<K extends keyof SessionEvents>(event: K, ...args: Parameters<SessionEvents[K]>): void {
    try {
      (this.emit as (e: K, ...a: Parameters<SessionEvents[K]>) => boolean)(event, ...args);
    } catch (error) {
      // A throwing listener is the application's bug; it must not break the session machinery.
      this.ctx.reportError(error);
    }
  }
}
