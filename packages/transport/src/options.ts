import { fullJitterBackoff, type BackoffFunction } from './backoff.js';
import type { HandshakeLink } from './link.js';
import type { WebSocketConstructor } from './socket.js';

/** A fixed URL, or a function called before every attempt (fresh tokens per attempt, as in partysocket). */
export type UrlProvider = string | (() => string | Promise<string>);

/**
 * Runs on every new connection once the socket is open and before it counts as open: the session
 * sends `hello` and awaits `welcome` here. A rejection fails the attempt (retried unless fatal).
 */
export type Handshake = (link: HandshakeLink, signal: AbortSignal) => Promise<void>;

export interface ReconnectOptions {
  /** Ceiling of the first reconnect delay (full jitter: the delay is uniform in [0, ceiling]). @default 500 */
  minDelayMs?: number;
  /**
   * No backoff delay is longer than this, and a server's `bye.retryMs` is honoured up to this
   * (jitter is added on top of it): a hostile or broken server cannot park the client for days.
   * @default 15_000
   */
  maxDelayMs?: number;
  /**
   * Connection attempts in a row before giving up. The count resets only after a connection stayed
   * open `minUptimeMs`, so a server that accepts and drops at once still exhausts it. @default Infinity
   */
  maxAttempts?: number;
  /** A connection must stay open this long before the attempt count (and backoff) resets. @default 5_000 */
  minUptimeMs?: number;
}

export interface TransportOptions {
  /** Server URL (`ws://` or `wss://`), or a function returning one (awaited before every attempt). */
  url: UrlProvider;
  /** WebSocket constructor. @default globalThis.WebSocket, else the `ws` package */
  WebSocket?: WebSocketConstructor;
  /** WebSocket subprotocols. @default undefined */
  protocols?: string | string[];
  /** Bound on one attempt: socket open plus handshake. @default 10_000 */
  connectTimeoutMs?: number;
  /** A `ping` frame is sent this often while open. `Infinity` disables pings. @default 15_000 */
  heartbeatIntervalMs?: number;
  /**
   * A peer silent this long is dead: the socket is dropped (local code 4000) and reconnected. So
   * is one that reads nothing for this long: a socket over `highWaterMarkBytes` that has not
   * drained at all (a peer that keeps sending but never reads would otherwise grow it forever).
   * @default 30_000
   */
  heartbeatTimeoutMs?: number;
  /** Reconnect policy, or `false` to never reconnect on its own. @default reconnectDefaults */
  reconnect?: ReconnectOptions | false;
  /** `writable` turns false (and `'drain'` follows) while the socket buffers more than this. @default 1_048_576 */
  highWaterMarkBytes?: number;
  /**
   * Largest inbound WebSocket message, in bytes (UTF-16 code units where the socket cannot count
   * bytes, as in browsers). A larger one closes the connection with 1009 (MessageTooBig, fatal)
   * and is never decoded; with `ws` it is refused before its payload is buffered. The default
   * leaves room for the largest message a server with default options writes: one push of up to
   * its `maxQueued.bytes` (16 MiB) plus the envelope. A server whose handler results or pushes
   * are larger needs a larger value here. Messages that arrive before the handshake asks for
   * them are held up to this plus 64 KiB in all; past that the connection fails with 4400.
   * @default 33_554_432 (32 MiB)
   */
  maxPayloadBytes?: number;
  /** Per-connection handshake (see `Handshake`). @default none: a connection is open once the socket is */
  handshake?: Handshake;
  /**
   * Runs once per `connect()` from 'idle', before its first attempt and while the state is
   * 'connecting' (the session loads its durable outbox here). A rejection fails that `connect()`
   * with the error it gave: the state goes back to 'idle'. Reconnects do not run it.
   * @default none
   */
  prepare?: () => Promise<void>;
  /**
   * Called when a connection passed its handshake, just before the state turns 'open': the
   * session applies the `welcome` here, so 'state' listeners see the session as it is. Returns
   * the reason of the transition (`welcome`, `resumed`, `session lost`).
   * @default none: the reason is `connected`
   */
  established?: () => string;
  /** Uniform random source for jitter. @default Math.random */
  random?: () => number;
  /** Reconnect delay function. @default fullJitterBackoff */
  backoff?: BackoffFunction;
  /** Monotonic clock, ms. @default performance.now */
  now?: () => number;
}

export const reconnectDefaults: Readonly<Required<ReconnectOptions>> = Object.freeze({
  minDelayMs: 500,
  maxDelayMs: 15_000,
  maxAttempts: Infinity,
  minUptimeMs: 5_000,
});

export const transportDefaults = Object.freeze({
  connectTimeoutMs: 10_000,
  heartbeatIntervalMs: 15_000,
  heartbeatTimeoutMs: 30_000,
  highWaterMarkBytes: 1_048_576,
  maxPayloadBytes: 32 * 1024 * 1024,
  reconnect: reconnectDefaults,
});

export interface ResolvedTransportOptions {
  readonly url: UrlProvider;
  readonly WebSocket: WebSocketConstructor | undefined;
  readonly protocols: string | string[] | undefined;
  readonly connectTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly reconnect: Readonly<Required<ReconnectOptions>> | false;
  readonly highWaterMarkBytes: number;
  readonly maxPayloadBytes: number;
  readonly handshake: Handshake | undefined;
  readonly prepare: (() => Promise<void>) | undefined;
  readonly established: (() => string) | undefined;
  readonly random: () => number;
  readonly backoff: BackoffFunction;
  readonly now: () => number;
}

interface NumberRule {
  min: number;
  integer?: boolean;
  infinity?: boolean;
}

/** Validate a numeric option up front, as p-retry does: a bad value is a `TypeError` at construction. */
export function checkNumber(name: string, value: number, rule: NumberRule): number {
  const ok =
    typeof value === 'number' &&
    !Number.isNaN(value) &&
    value >= rule.min &&
    (Number.isFinite(value) ? !rule.integer || Number.isInteger(value) : rule.infinity === true);
  if (!ok) {
    const kind = rule.integer ? 'an integer' : 'a number';
    throw new TypeError(
      `Expected \`${name}\` to be ${kind} >= ${rule.min}${rule.infinity ? ' (or Infinity)' : ''}, got ${String(value)}`,
    );
  }
  return value;
}

function optionalFunction<F>(name: string, value: F | undefined): F | undefined {
  if (value !== undefined && typeof value !== 'function') throw new TypeError(`Expected \`${name}\` to be a function`);
  return value;
}

export function resolveReconnect(reconnect: ReconnectOptions | false | undefined): Readonly<Required<ReconnectOptions>> | false {
  if (reconnect === false) return false;
  const r = reconnect ?? {};
  const minDelayMs = checkNumber('reconnect.minDelayMs', r.minDelayMs ?? reconnectDefaults.minDelayMs, { min: 0 });
  const maxDelayMs = checkNumber('reconnect.maxDelayMs', r.maxDelayMs ?? reconnectDefaults.maxDelayMs, { min: minDelayMs });
  return Object.freeze({
    minDelayMs,
    maxDelayMs,
    maxAttempts: checkNumber('reconnect.maxAttempts', r.maxAttempts ?? reconnectDefaults.maxAttempts, {
      min: 1,
      integer: true,
      infinity: true,
    }),
    minUptimeMs: checkNumber('reconnect.minUptimeMs', r.minUptimeMs ?? reconnectDefaults.minUptimeMs, { min: 0 }),
  });
}

export function resolveTransportOptions(options: TransportOptions): ResolvedTransportOptions {
  if (typeof options.url !== 'string' && typeof options.url !== 'function') {
    throw new TypeError('Expected `url` to be a string or a function returning one');
  }
  const d = transportDefaults;
  return {
    url: options.url,
    WebSocket: options.WebSocket,
    protocols: options.protocols,
    connectTimeoutMs: checkNumber('connectTimeoutMs', options.connectTimeoutMs ?? d.connectTimeoutMs, { min: 1, infinity: true }),
    heartbeatIntervalMs: checkNumber('heartbeatIntervalMs', options.heartbeatIntervalMs ?? d.heartbeatIntervalMs, {
      min: 1,
      infinity: true,
    }),
    heartbeatTimeoutMs: checkNumber('heartbeatTimeoutMs', options.heartbeatTimeoutMs ?? d.heartbeatTimeoutMs, {
      min: 1,
      infinity: true,
    }),
    reconnect: resolveReconnect(options.reconnect),
    highWaterMarkBytes: checkNumber('highWaterMarkBytes', options.highWaterMarkBytes ?? d.highWaterMarkBytes, {
      min: 1,
      infinity: true,
    }),
    maxPayloadBytes: checkNumber('maxPayloadBytes', options.maxPayloadBytes ?? d.maxPayloadBytes, { min: 1, integer: true, infinity: true }),
    handshake: optionalFunction('handshake', options.handshake),
    prepare: optionalFunction('prepare', options.prepare),
    established: optionalFunction('established', options.established),
    random: options.random ?? Math.random,
    backoff: options.backoff ?? fullJitterBackoff,
    now: options.now ?? (() => performance.now()),
  };
}
