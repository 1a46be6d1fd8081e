import { EventEmitter } from 'eventemitter3';
import { CloseCode, type Codec, type MsgFrame, type PluginContext } from '@lifeline/protocol';
import { now as monotonic, type FlushProducer, type PluginHost } from '@lifeline/protocol/internal';
import type { ServedSession } from './connection-hooks.js';
import type { SessionRecord } from './store.js';
import type { ResolvedOptions } from './options.js';
import { Inbound, type InboundDeps } from './inbound.js';
import type { Link } from './link.js';
import { Outbound, type OutboundDeps, type SendOptions } from './outbound.js';
import type { Deadlines } from '@lifeline/protocol/internal';
import { SharedInbound } from './shared/shared-inbound.js';
import { SharedOutbound, type PendingPush } from './shared/shared-outbound.js';
import type { SharedNode } from './shared/node.js';

/**
 * Why a session ended. `evicted`: a newer session of the same identity took its place while it
 * was detached (`maxSessionsPerIdentity`); its client is answered as for an expired session.
 * `moved` (on a shared engine only): the client resumed the session on another node; this
 * node's copy ends, the session goes on there.
 */
export type SessionCloseReason = 'closed' | 'expired' | 'evicted' | 'server-closed' | 'client-closed' | 'moved';

export interface SessionCloseEvent {
  readonly reason: SessionCloseReason;
}

/** A connection let go of the session; it stays resumable for `resumeWindowMs`. */
export interface SessionDetachEvent {
  /** The close code of the connection (1006 when it was dropped without one). */
  readonly code: number;
  readonly reason: string;
}

/** A change of `session.state`: the state it left, and why it moved. */
export interface SessionStateChange {
  readonly from: SessionState;
  /** Why: `new session`, `resumed`, the close code and reason of the connection that went, or why the session ended. */
  readonly reason: string;
}

export interface SessionEvents {
  /** `session.state` changed (before `attach`, `detach` or `close` for the same change). */
  state: (state: SessionState, change: SessionStateChange) => void;
  /** The session ended; every pending `send()` has been rejected with `ClosedError`. */
  close: (event: SessionCloseEvent) => void;
  /** A connection took the session (the first one, or a resume). */
  attach: () => void;
  detach: (event: SessionDetachEvent) => void;
}

/** `attached` (a connection holds it), `detached` (resumable), `closed` (ended for good). */
export type SessionState = 'attached' | 'detached' | 'closed';

/** A session starts detached, for the instant before its first connection takes it. */
const transitions: Readonly<Record<SessionState, readonly SessionState[]>> = {
  detached: ['attached', 'closed'],
  attached: ['detached', 'closed'],
  closed: [],
};

/** What the registry of sessions is told of each one's life: it mirrors it in the store and runs the expiry. */
export interface SessionLifecycle {
  attached(session: SessionImpl): void;
  detached(session: SessionImpl): void;
  ended(session: SessionImpl): void;
}

/** What the server gives each session. */
export interface SessionDeps extends Omit<InboundDeps, 'options'>, Omit<OutboundDeps, 'options'> {
  readonly options: InboundDeps['options'] & OutboundDeps['options'] & Pick<ResolvedOptions, 'overloadRetryMs'>;
  readonly lifecycle: SessionLifecycle;
  readonly plugins: PluginHost;
  /** Set on an engine with session state (guarantee 10): claims, outcomes and pushes live there. */
  readonly shared?: SharedSessionDeps;
}

/** What a session on the shared path is given besides. */
export interface SharedSessionDeps {
  readonly node: SharedNode;
  /** One timer for the deadlines of every push of this node. */
  readonly pushDeadlines: Deadlines<PendingPush>;
}

/**
 * The monotonic clock in whole milliseconds: a small integer sits in a field as it is, where a
 * fractional time gets a 16-byte heap number box in every session (issue 14).
 */
const wholeMs = (): number => Math.floor(monotonic());

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
   * time), `ClosedError` when the session ends, and `TypeError` for data the session's codec cannot
   * encode (a cycle, a BigInt, nesting past 63 levels). A
   * rejection nobody awaits is never reported as unhandled, so fire-and-forget pushes are safe.
   */
  send(data: unknown, options?: SendOptions): Promise<void>;
  /** End the session: the client gets `bye` 4410 and the socket closes with 4410. */
  close(reason?: string): void;
}

/**
 * The server's side of a session; only the `Session` interface is public. It owns its state
 * (changed only by `setState`, with a reason, reported as the `state` event and to plugins'
 * `onState`), its inbound part (client → server: handler, outcomes, acks) and its outbound queue
 * (server → client), and holds the connection attached to it as a `Link`.
 */
export class SessionImpl extends EventEmitter<SessionEvents> implements Session, ServedSession, FlushProducer<unknown> {
  /** Made when first asked for (plugins, or a part made at a first message): most idle sessions never are. */
  private context: PluginContext | undefined;
  /**
   * Made at the first message each way (`inboundPart`, `outboundPart`), or on a shared engine
   * at a resume that finds marks above 0 (`adoptStored`): a session that is only held, which is
   * most of them in a chat or a ticker, pays nothing for them (issue 14: about 800 bytes per
   * idle session on one node with their queues and result cache, about 1,100 on a shared engine).
   */
  private inbound: Inbound | SharedInbound | undefined;
  private outbound: Outbound | SharedOutbound | undefined;
  /** The window the attached client asked for (`hello.win`), for an outbound part made later. */
  private clientWindow: number | undefined;
  /**
   * Changed only by `setState`, against `transitions`: a field rather than a `StateMachine`,
   * whose object with its table and a reason nobody read was 56 bytes of every session (issue 14).
   */
  private current: SessionState = 'detached';
  private link: Link | undefined;
  /** Monotonic ms when the last connection let go (for `onResume.downtimeMs`). */
  private lastDetach = wholeMs();
  /** Why it ended, once it has. */
  private ending: SessionCloseReason | undefined;
  /**
   * The registry's: this session's record as last written to the store. A field, not a map
   * entry of the registry keyed by session (~40 bytes of every idle session, issue 14).
   */
  storeRecord: SessionRecord | undefined = undefined;

  constructor(
    readonly id: string,
    readonly identity: unknown,
    /** Chosen in the first handshake and kept for life: cached results and queued pushes are encoded in it. */
    readonly codec: Codec,
    private readonly deps: SessionDeps,
  ) {
    super();
  }

  /**
   * An engine failure: the connection is told to come back (1013); the session stays resumable.
   * A method, not a closure made with every session (issue 14: idle memory on a shared engine).
   */
  private engineFailed(error: unknown): void {
    this.deps.reportError(new Error(`session ${this.id}: the engine failed; the connection was told to retry (1013)`, { cause: error }));
    this.link?.goodbye(CloseCode.TryAgainLater, 'session state unavailable, try again later', this.deps.options.overloadRetryMs);
  }

  /** What plugins are told of this session (`{ side: 'server', sessionId }`). */
  get pluginContext(): PluginContext {
    return (this.context ??= Object.freeze({ side: 'server', sessionId: this.id }));
  }

  /** Why the session ended (undefined while it has not). */
  get endReason(): SessionCloseReason | undefined {
    return this.ending;
  }

  /**
   * The shared path: the engine's marks as a resume read them (`welcome.seq`, the pushes it
   * holds). A mark above 0 is kept by the part it belongs to, made now if it was not (unattached:
   * the attach that follows gives it the new connection); at 0 no part is needed yet, which is
   * how an idle session on a shared engine stays as small as one on a single node (issue 14).
   */
  adoptStored(accepted: number, pushSeq: number): void {
    if (accepted > 0) {
      const inbound = (this.inbound ??= this.makeInbound());
      if (inbound instanceof SharedInbound) inbound.adoptAccepted(accepted);
    }
    if (pushSeq > 0) {
      const outbound = (this.outbound ??= this.makeOutbound());
      if (outbound instanceof SharedOutbound) outbound.adoptKnown(pushSeq);
    }
  }


  get state(): SessionState {
    return this.current;
  }

  get connected(): boolean {
    return this.link !== undefined;
  }

  /** Monotonic ms when the last connection let go. */
  get detachedAt(): number {
    return this.lastDetach;
  }

  /**
   * The run of acks the attached connection's writer pulls at each flush: the session itself,
   * which hands on its inbound part's run, so the writer needs no word when that part is made.
   */
  get acks(): FlushProducer<unknown> {
    return this;
  }

  takeFrame(): unknown {
    return this.inbound?.acks.takeFrame();
  }

  lingers(): boolean {
    return this.inbound !== undefined && this.inbound.acks.lingers();
  }

  /** Highest client seq accepted: `welcome.seq`. */
  get acceptedSeq(): number {
    return this.inbound?.acceptedSeq ?? 0;
  }

  /** No handler running and nothing queued for one. */
  get idle(): boolean {
    return this.inbound?.idle ?? true;
  }

  /** Resolves when no handler runs and none is queued (a graceful shutdown waits for it). */
  whenIdle(): Promise<void> {
    return this.inbound?.whenIdle() ?? Promise.resolve();
  }

  /** A `msg` from the attached connection. */
  receive(f: MsgFrame, wallAt: number, at: number, bytes: number): void {
    this.inboundPart().receive(f, wallAt, at, bytes);
  }

  /**
   * The client's `got`: the one-node result cache forgets what it answered up to `seq`. A shared
   * engine keeps its span (its welcome does not offer `got`, so a client sends none).
   */
  got(seq: number): void {
    if (this.inbound instanceof Inbound) this.inbound.got(seq);
  }

  /** The client's `cack`: with no outbound part, no push was ever sent, so it settles nothing. */
  cack(seq: number): void {
    this.outbound?.cack(seq);
  }

  /** Highest push seq the client has acknowledged (one-node path; the engine keeps the shared path's). */
  get pushAcked(): number {
    return this.outbound instanceof Outbound ? this.outbound.answeredThrough : 0;
  }

  send(data: unknown, options?: SendOptions): Promise<void> {
    return this.outboundPart().send(data, options) as Promise<unknown> as Promise<void>;
  }

  /** The inbound part for this session's path, not yet attached. */
  private makeInbound(): Inbound | SharedInbound {
    const deps = this.deps;
    const shared = deps.shared;
    if (shared === undefined) return new Inbound(this, this.pluginContext, this.codec, deps);
    return new SharedInbound(this.id, this, this.pluginContext, this.codec, {
      options: deps.options,
      plugins: deps.plugins,
      engine: shared.node.engine,
      node: shared.node.id,
      orphans: shared.node.orphans,
      closing: deps.closing,
      reportError: deps.reportError,
      engineFailed: (error) => this.engineFailed(error),
      // Gone from the engine (expired, ended elsewhere, or Redis lost it): the client comes back
      // and is answered as for an unknown session (a new one, `session-lost`).
      sessionGone: () => this.end('expired', CloseCode.TryAgainLater, { retryMs: deps.options.overloadRetryMs }, 'the session is no longer known'),
    });
  }

  /** The outbound part for this session's path, not yet attached. */
  private makeOutbound(): Outbound | SharedOutbound {
    const deps = this.deps;
    const shared = deps.shared;
    if (shared === undefined) return new Outbound(this.codec, this.pluginContext, deps);
    return new SharedOutbound(this.id, this.codec, {
      options: deps.options,
      engine: shared.node.engine,
      deadlines: shared.pushDeadlines,
      reportError: deps.reportError,
      engineFailed: (error) => this.engineFailed(error),
    });
  }

  private inboundPart(): Inbound | SharedInbound {
    if (this.inbound !== undefined) return this.inbound;
    const inbound = (this.inbound = this.makeInbound());
    // As an inbound part made at the start would be: ended with the session, it takes nothing.
    if (this.ending !== undefined) inbound.end();
    else if (this.link !== undefined) inbound.attach(this.link);
    return inbound;
  }

  private outboundPart(): Outbound | SharedOutbound {
    if (this.outbound !== undefined) return this.outbound;
    const outbound = (this.outbound = this.makeOutbound());
    // Nothing was ever sent (on a shared engine: no push was stored when the session was taken,
    // or `adoptStored` would have made this part), so the client has acknowledged nothing: 0.
    if (this.link !== undefined) outbound.attach(this.link, this.clientWindow, 0);
    return outbound;
  }

  close(reason = 'session closed by the server'): void {
    this.end('closed', CloseCode.SessionEnded, {}, reason);
  }

  /**
   * Take `link` (its welcome is written): announce, and replay what the client has not
   * acknowledged (after `ackSeq`, its cumulative ack) within its window `win`. Returns how many
   * messages were retransmitted.
   */
  attach(link: Link, win: number | undefined, ackSeq: number, reason: string): number {
    this.link = link;
    if (!this.setState('attached', reason)) {
      // Ended meanwhile (the handshake checks, so this is a bug): the connection gets the end, not the session.
      this.link = undefined;
      link.close(CloseCode.SessionEnded, 'the session has ended');
      return 0;
    }
    this.deps.lifecycle.attached(this);
    this.clientWindow = win;
    this.inbound?.attach(link);
    const outbound = this.outbound;
    const replayed = outbound === undefined ? 0 : outbound.attach(link, win, ackSeq);
    this.emitSafely('attach');
    return replayed;
  }

  /** Close the connection holding the session, if any (a newer one takes it over). */
  closeConnection(code: number, reason: string): void {
    this.link?.close(code, reason);
  }

  /** `conn` closed or was replaced; a no-op when it no longer holds the session. */
  detachFrom(conn: Link, code: number, reason: string): void {
    if (this.link !== conn) return;
    this.link = undefined;
    this.inbound?.detach();
    this.outbound?.detach();
    if (this.state === 'closed') return;
    this.lastDetach = wholeMs();
    this.setState('detached', `connection closed ${code}: ${reason}`);
    this.deps.lifecycle.detached(this);
    this.emitSafely('detach', { code, reason });
  }

  /** The attached connection's socket took what it had buffered: handle what waited for it, then send more. */
  drained(conn: Link): void {
    if (this.link !== conn) return;
    this.inbound?.drain();
    this.outbound?.pump();
  }

  /** The client's `bye` 1000. */
  endedByClient(): void {
    this.end('client-closed', CloseCode.Normal, undefined, 'session ended by the client');
  }

  /**
   * End for good: close the connection with `closeCode` (after a `bye` with the same code and
   * `closeText` when `bye` is given), reject every pending send, forget the session, and emit `close`.
   */
  end(reason: SessionCloseReason, closeCode: number | undefined, bye?: { readonly retryMs?: number }, closeText: string = reason): void {
    if (this.state === 'closed') return;
    this.ending = reason;
    if (!this.setState('closed', closeText === reason ? reason : `${reason}: ${closeText}`)) return;
    const link = this.link;
    if (link !== undefined) {
      if (closeCode === undefined) link.terminate(closeText);
      else if (bye !== undefined) link.goodbye(closeCode, closeText, bye.retryMs);
      else link.close(closeCode, closeText);
    }
    this.inbound?.end();
    // Made now if it never was, so a later send() is refused with the session's end.
    this.outboundPart().closeAll(reason, closeCode);
    this.deps.lifecycle.ended(this);
    this.emitSafely('close', { reason });
  }

  /** The one writer of the state; false when the move is not allowed (a second end, a detach after it). */
  private setState(next: SessionState, reason: string): boolean {
    const from = this.current;
    if (!transitions[from].includes(next)) return false;
    this.current = next;
    // Told here, not through the machine's `changed` callback: a closure per session (issue 14).
    const plugins = this.deps.plugins;
    if (plugins.active) plugins.onState({ from, to: next, reason, at: monotonic() }, this.pluginContext);
    this.emitSafely('state', next, { from, reason });
    return true;
  }

  private emitSafely<K extends keyof SessionEvents>(event: K, ...args: Parameters<SessionEvents[K]>): void {
    try {
      (this.emit as (e: K, ...a: Parameters<SessionEvents[K]>) => boolean)(event, ...args);
    } catch (error) {
      // A throwing listener is the application's bug; it must not break the session machinery.
      this.deps.reportError(error);
    }
  }
}
