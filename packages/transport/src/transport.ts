import { EventEmitter } from 'eventemitter3';
import { ClosedError, ConnectionError, LifelineError, fatalCloseCodes, CloseCode } from '@lifeline/protocol';
import { ClockProbe, type ClockSample } from '@lifeline/protocol/internal';
import { Connector } from './connector.js';
import { Heartbeat } from './heartbeat.js';
import { binaryError, closeError, type Link } from './link.js';
import { resolveTransportOptions, type ResolvedTransportOptions, type TransportOptions } from './options.js';
import { StateMachine, type ConnectionState, type StateChange } from './state.js';

/** The transport's state is the connection's (see `ConnectionState`). */
export type TransportState = ConnectionState;

export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
  /** Whether the transport is about to reconnect on its own. */
  readonly willReconnect: boolean;
}

export interface ReconnectInfo {
  /** The attempt about to be made, 1-based within the current streak of failures. */
  readonly attempt: number;
  readonly delayMs: number;
}

export interface TransportEvents {
  state: (state: TransportState, change: StateChange) => void;
  /** A connection passed its handshake. */
  open: () => void;
  /** One inbound message: text, or bytes when the connection's codec is binary. */
  message: (data: unknown) => void;
  /** An open connection went down (any cause, local or remote). */
  close: (info: CloseInfo) => void;
  /** A delay before a connection attempt starts. */
  reconnecting: (info: ReconnectInfo) => void;
  /** Socket writes fell back under `highWaterMarkBytes`. */
  drain: () => void;
  /** The transport stopped for good on its own (fatal close code, attempts exhausted); state is 'closed' (its change carries the same error). */
  error: (error: LifelineError) => void;
}

/** Close codes that ask the client to wait before reconnecting (docs/protocol.md#close-codes). */
const backOffCodes: ReadonlySet<number> = new Set<number>([CloseCode.GoingAway, CloseCode.TryAgainLater, CloseCode.RateLimited]);

/** While above the high-water mark, `bufferedAmount` is polled this often (browsers have no drain event). */
const DRAIN_POLL_MS = 10;

/**
 * One WebSocket at a time: the connect loop with backoff, the heartbeat, backpressure and typed
 * events. It knows nothing of sessions; the session plugs in through `handshake`.
 */
export class Transport extends EventEmitter<TransportEvents> {
  readonly options: ResolvedTransportOptions;
  /** The one state machine of the connection: `setState` is the only writer. */
  private readonly machine = new StateMachine((state, change) => this.emit('state', state, change));
  private link: Link | undefined;
  private openedAt = 0;
  /** The running connect loop; replaced (and the old one aborted) on stop. */
  private loop: AbortController | undefined;
  private running: Promise<void> | undefined;
  private drainTimer: ReturnType<typeof setInterval> | undefined;
  /** While over the high-water mark: the lowest `bufferedAmount` seen, and when it was reached. */
  private drainLow = 0;
  private drainLowAt = 0;
  private readonly connector: Connector;
  private readonly heartbeat: Heartbeat;
  /** The last ping on this connection and the one pong that may answer it. */
  private clock = new ClockProbe();

  constructor(options: TransportOptions) {
    super();
    this.options = resolveTransportOptions(options);
    this.connector = new Connector(this.options, (attempt, delayMs) => this.emit('reconnecting', { attempt, delayMs }));
    this.heartbeat = new Heartbeat({
      intervalMs: this.options.heartbeatIntervalMs,
      timeoutMs: this.options.heartbeatTimeoutMs,
      now: this.options.now,
      ping: () => {
        const ts = Date.now();
        const link = this.link;
        if (link?.send(link.codec.ping(ts)) === true) this.clock.sent(ts);
      },
      dead: () => this.dropLink(CloseCode.HeartbeatTimeout, 'heartbeat timeout'),
    });
  }

  get state(): TransportState {
    return this.machine.value;
  }

  /** False while the socket buffers more than `highWaterMarkBytes` (or there is no open socket). */
  get writable(): boolean {
    const link = this.link;
    return link !== undefined && link.socket.bufferedAmount < this.options.highWaterMarkBytes;
  }

  get bufferedAmount(): number {
    return this.link?.socket.bufferedAmount ?? 0;
  }

  /**
   * Start connecting (from 'idle'); resolves once a connection passed its handshake. Rejects with
   * the typed error of the last attempt (the state goes back to 'idle'), or with the abort reason
   * when `cancel()` or `close()` stopped it. From 'connecting' it joins the running attempt.
   */
  connect(): Promise<void> {
    switch (this.state) {
      case 'open':
        return Promise.resolve();
      case 'closed':
        return Promise.reject(new ClosedError('the transport is closed'));
      case 'idle':
        this.connector.reset();
        this.setState('connecting', 'connect()');
        return this.start(false);
      default:
        return this.running ?? Promise.reject(new ConnectionError(CloseCode.ConnectTimeout, 'not connecting'));
    }
  }

  /** Write one message, encoded in the connection's codec. Returns false when there is no open connection (the data is dropped). */
  send(message: unknown): boolean {
    const link = this.link;
    if (link === undefined || !link.send(message)) return false;
    if (this.drainTimer === undefined && link.socket.bufferedAmount >= this.options.highWaterMarkBytes) {
      this.drainLow = link.socket.bufferedAmount;
      this.drainLowAt = this.options.now();
      this.drainTimer = setInterval(this.pollDrain, DRAIN_POLL_MS);
    }
    return true;
  }

  /**
   * The round trip and clock offset a `pong` tells, when it answers the last ping sent on this
   * connection (once per ping). A pong that answers nothing we sent (a forged or replayed one)
   * gives nothing.
   */
  pong(ts: number, at: number): ClockSample | undefined {
    return this.clock.answer(ts, at, Date.now());
  }

  /** The next reconnect waits at least `ms` plus its jitter, up to `reconnect.maxDelayMs` (a server `bye` with `retryMs`). */
  retryAfter(ms: number): void {
    this.connector.retryAfter(ms);
  }

  /**
   * Drop the current connection without a closing handshake, as a dead link is dropped, and
   * reconnect unless `code` is fatal or reconnecting is off.
   */
  drop(code: number, reason: string): void {
    this.dropLink(code, reason);
  }

  /** Stop a connect or reconnect in progress and go back to 'idle'. No effect when open or closed. */
  cancel(reason = 'cancelled'): void {
    if (this.state !== 'connecting' && this.state !== 'reconnecting') return;
    this.abortLoop(new ClosedError(`connect cancelled (${reason})`));
    this.setState('idle', reason);
  }

  /** Close for good: stop any connect loop, close the socket with `code`. Idempotent. */
  close(code: number = CloseCode.Normal, reason = ''): void {
    if (this.state === 'closed') return;
    this.abortLoop(new ClosedError('the transport was closed'));
    const link = this.detach();
    if (link !== undefined) {
      link.close(code, reason);
      this.emit('close', { code, reason, willReconnect: false });
    }
    this.setState('closed', reason || 'closed');
  }

  private start(delayFirst: boolean): Promise<void> {
    const loop = new AbortController();
    this.loop = loop;
    const { prepare } = this.options;
    const attempts =
      delayFirst || prepare === undefined
        ? this.connector.run(loop.signal, delayFirst)
        : prepare().then(() => {
            loop.signal.throwIfAborted();
            return this.connector.run(loop.signal, false);
          });
    const running = attempts.then(
      (link) => {
        if (this.loop !== loop) {
          link.drop(CloseCode.ConnectTimeout, 'connect cancelled');
          throw loop.signal.reason ?? new ClosedError('connect cancelled');
        }
        this.loop = undefined;
        this.running = undefined;
        this.adopt(link);
      },
      (error: unknown) => {
        if (this.loop !== loop) throw error; // cancel() or close() already moved the state on
        this.loop = undefined;
        this.running = undefined;
        const typed = asLifelineError(error);
        if (delayFirst) this.fail(typed);
        else this.setState('idle', `connect failed: ${typed.message}`, typed);
        throw typed;
      },
    );
    this.running = running;
    // A reconnect run has no caller to await it; its outcome is reported through events.
    if (delayFirst) running.catch(() => {});
    return running;
  }

  private adopt(link: Link): void {
    this.link = link;
    this.clock = new ClockProbe();
    this.openedAt = this.options.now();
    link.activate({ message: this.onMessage, close: this.onClose, bytes: this.onBytes });
    this.heartbeat.start();
    // The session applies what the handshake brought before anyone hears 'open'.
    this.setState('open', this.options.established?.() ?? 'connected');
    // A 'state' listener may have closed or dropped it already.
    if (this.link !== link) return;
    this.emit('open');
    link.flush();
  }

  private readonly onMessage = (data: unknown): void => {
    this.heartbeat.seen();
    if (typeof data === 'string' || this.link?.codec.binary === true) this.emit('message', data);
    else this.protocolFailure();
  };

  private readonly onBytes = (): void => {
    this.heartbeat.seen();
  };

  private readonly onClose = (code: number, reason: string): void => {
    this.lost(code, reason);
  };

  private protocolFailure(): void {
    const error = binaryError();
    const link = this.detach();
    link?.close(error.closeCode, error.message);
    this.emit('close', { code: error.closeCode, reason: error.message, willReconnect: false });
    this.fail(error);
  }

  private dropLink(code: number, reason: string): void {
    const link = this.link;
    if (link === undefined) return;
    link.drop(code, reason);
    this.lost(code, reason);
  }

  /** The open connection is gone: reconnect, go idle, or stop for good. */
  private lost(code: number, reason: string): void {
    if (this.detach() === undefined) return;
    if (this.options.now() - this.openedAt >= (this.options.reconnect === false ? 0 : this.options.reconnect.minUptimeMs)) {
      this.connector.reset();
    }
    // Restarting, overloaded, rate limited: never straight back, even when no bye said how long.
    if (this.options.reconnect !== false && backOffCodes.has(code)) this.connector.retryAfter(this.options.reconnect.minDelayMs);
    const fatal = fatalCloseCodes.has(code);
    const willReconnect = this.options.reconnect !== false && !fatal && !this.connector.exhausted;
    this.emit('close', { code, reason, willReconnect });
    if (this.state !== 'open') return; // a 'close' listener moved the state on
    if (willReconnect) {
      this.setState('reconnecting', `closed ${code}${reason ? `: ${reason}` : ''}`);
      void this.start(true);
    } else if (fatal) {
      this.fail(closeError(code, reason));
    } else if (this.options.reconnect !== false) {
      this.fail(new ConnectionError(code, `gave up after ${this.connector.maxAttempts} attempts${reason ? ` (${reason})` : ''}`));
    } else {
      this.setState('idle', `closed ${code}${reason ? `: ${reason}` : ''}`);
    }
  }

  private fail(error: LifelineError): void {
    if (this.state === 'closed') return;
    this.setState('closed', error.message, error);
    this.emit('error', error);
  }

  private detach(): Link | undefined {
    const link = this.link;
    this.link = undefined;
    this.heartbeat.stop();
    this.stopDrainPoll();
    return link;
  }

  private abortLoop(reason: unknown): void {
    const loop = this.loop;
    this.loop = undefined;
    this.running = undefined;
    loop?.abort(reason);
  }

  private readonly pollDrain = (): void => {
    const link = this.link;
    if (link === undefined) {
      this.stopDrainPoll();
      return;
    }
    const buffered = link.socket.bufferedAmount;
    if (buffered < this.options.highWaterMarkBytes) {
      this.stopDrainPoll();
      this.emit('drain');
      return;
    }
    // A server that keeps sending but reads nothing is never silent, so the heartbeat would keep
    // it forever while our buffer only grows (pongs, cacks): no progress for heartbeatTimeoutMs
    // is a dead link too. Any drain at all counts as progress, however slow the link.
    const now = this.options.now();
    if (buffered < this.drainLow) {
      this.drainLow = buffered;
      this.drainLowAt = now;
    } else if (now - this.drainLowAt >= this.options.heartbeatTimeoutMs) {
      this.dropLink(CloseCode.HeartbeatTimeout, `the server read nothing for ${this.options.heartbeatTimeoutMs} ms`);
    }
  };

  private stopDrainPoll(): void {
    if (this.drainTimer !== undefined) clearInterval(this.drainTimer);
    this.drainTimer = undefined;
  }

  /** The one place the state changes (through the table of `StateMachine`); emits 'state' only on change. */
  private setState(next: TransportState, reason: string, error?: LifelineError): void {
    this.machine.set(next, reason, error);
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Attempt errors are already typed; anything else (a throwing `url()`) is wrapped. */
function asLifelineError(error: unknown): LifelineError {
  if (error instanceof ConnectionError) return closeError(error.closeCode, error.reason);
  if (error instanceof LifelineError) return error;
  // 1006: the WebSocket code for a connection that ended abnormally, here one that never opened.
  return new ConnectionError(1006, errorText(error), { cause: error });
}
