import { jsonCodec, type Codec, type Json, type LifelinePlugin } from '@lifeline/protocol';
import { checkCodecs } from '@lifeline/protocol/internal';
import { checkOutboxStore, type OutboxStore } from './outbox-store.js';
import { reconnectDefaults, transportDefaults, type BackoffFunction, type ReconnectOptions, type UrlProvider, type WebSocketConstructor } from '@lifeline/transport';
import { checkNumber, resolveReconnect } from '@lifeline/transport/internal';

/** Credentials for `hello.auth`: a JSON value, or a function called before every connection attempt. */
export type AuthProvider = Json | (() => Json | Promise<Json>);

/** Bounds of the send queue (messages not yet transmitted). */
export interface QueueLimits {
  /** @default 10_000 */
  messages?: number;
  /** Sum of the JSON-encoded payload lengths, in UTF-16 code units (bytes for ASCII). @default 16_777_216 */
  bytes?: number;
}

/** What `send()` does when the queue is full: wait for room (within its deadline), or reject at once. */
export type OverflowPolicy = 'wait' | 'reject';

export interface ClientOptions {
  /** Server URL, or a function returning one (awaited before every attempt). */
  url: UrlProvider;
  /** WebSocket constructor. @default globalThis.WebSocket, else the `ws` package */
  WebSocket?: WebSocketConstructor;
  /** Sent as `hello.auth` on every connection (a function is called each time: fresh tokens). @default undefined */
  auth?: AuthProvider;
  /** Bound on one connection attempt: socket open plus hello/welcome. @default 10_000 */
  connectTimeoutMs?: number;
  /** The client sends a `ping` this often. @default 15_000 */
  heartbeatIntervalMs?: number;
  /** A server silent this long, or that reads nothing this long, is dead: drop, reconnect, resume. @default 30_000 */
  heartbeatTimeoutMs?: number;
  /** Reconnect policy (full-jitter backoff), or `false`. @default { minDelayMs: 500, maxDelayMs: 15_000, maxAttempts: Infinity, minUptimeMs: 5_000 } */
  reconnect?: ReconnectOptions | false;
  /** Default deadline of a `send()`: its promise settles by then, acked or not. @default 30_000 */
  ackTimeoutMs?: number;
  /**
   * Most unacknowledged messages on the wire; the effective window is min(this, welcome.win):
   * 65,535 from one server node, 1,024 from a shared engine, by default. A burst within the
   * window is on the wire while the loop that sends it still runs, so the server works meanwhile
   * (docs/performance.md, "the window"). Their bytes are bounded too, by `maxQueued.bytes`.
   * @default 65_535 (MQTT's default receive maximum)
   */
  maxInFlight?: number;
  /**
   * Bound on the queue behind the window; a number bounds messages only. A payload larger than
   * `bytes` is refused with `PayloadTooLargeError`. @default { messages: 10_000, bytes: 16 MiB }
   */
  maxQueued?: number | QueueLimits;
  /**
   * Full-queue policy. Under `'wait'` the senders waiting for room are bounded only by their
   * deadlines (the server's, serving many peers, bounds them by `maxQueued` again). @default 'wait'
   */
  overflow?: OverflowPolicy;
  /**
   * Inbound messages kept for `receive()` / `messages()` when nobody is listening; announced as
   * `hello.win`, so the server never has more than this many unacknowledged. It bounds the buffer
   * in all: messages a lost session left count too, and past it the rest wait on the server, as
   * for `maxBufferedBytes`. @default 1024
   */
  maxBuffered?: number;
  /**
   * Bound on the same buffer in characters of JSON (bytes for ASCII), as `maxQueued.bytes`
   * counts. When a message would pass it, the client stops taking server messages (none is
   * acknowledged, so the server keeps them) until the application has taken half of what is
   * held; it then reconnects and resumes, and the server replays the rest in order. A single
   * message larger than the bound is still held when the buffer is empty. @default 16_777_216
   */
  maxBufferedBytes?: number;
  /**
   * Largest WebSocket message accepted from the server (see the transport's `maxPayloadBytes`):
   * a larger one closes with 1009 (fatal) and is never decoded nor buffered. @default 33_554_432 (32 MiB)
   */
  maxPayloadBytes?: number;
  /** Transmission pauses while the socket buffers more than this. @default 1_048_576 */
  highWaterMarkBytes?: number;
  /**
   * Durable outbox: keeps every accepted message until its outcome is known, so a reload or a
   * restart does not lose it; the first `connect()` sends what an earlier run left (events
   * `restored`, `restored-settled`). `webStorageOutbox()` (browser), `fileOutbox()` (Node,
   * `@lifeline/sdk/file-outbox`). @default undefined (in memory only)
   */
  outbox?: OutboxStore;
  /** Observability plugins (e.g. `@lifeline/metrics`). @default [] */
  plugins?: readonly LifelinePlugin[];
  /**
   * The codecs this client speaks, in preference order: offered in `hello.codecs`, and the server
   * picks one for the session (protocol.md, "Codecs"). @default [jsonCodec]
   */
  codecs?: readonly Codec[];
  /** Uniform random source for reconnect jitter. @default Math.random */
  random?: () => number;
  /** Reconnect delay function. @default fullJitterBackoff */
  backoff?: BackoffFunction;
  /** Monotonic clock in ms, for deadlines and plugin times. @default performance.now */
  now?: () => number;
}

export const clientDefaults = Object.freeze({
  connectTimeoutMs: transportDefaults.connectTimeoutMs,
  heartbeatIntervalMs: transportDefaults.heartbeatIntervalMs,
  heartbeatTimeoutMs: transportDefaults.heartbeatTimeoutMs,
  reconnect: reconnectDefaults,
  ackTimeoutMs: 30_000,
  maxInFlight: 65_535,
  maxQueued: Object.freeze({ messages: 10_000, bytes: 16 * 1024 * 1024 }),
  overflow: 'wait' as OverflowPolicy,
  maxBuffered: 1024,
  maxBufferedBytes: 16 * 1024 * 1024,
  maxPayloadBytes: transportDefaults.maxPayloadBytes,
  highWaterMarkBytes: transportDefaults.highWaterMarkBytes,
  /** `connect()` waits this many `connectTimeoutMs` by default: room for a few attempts and their backoff. */
  connectDeadlineFactor: 3,
  /** Default deadline of `receive()`. */
  receiveTimeoutMs: 30_000,
  /** Default deadline of `close({ drain: true })`. */
  closeTimeoutMs: 5_000,
  codecs: Object.freeze([jsonCodec]) as readonly Codec[],
});

export interface ResolvedClientOptions {
  readonly ackTimeoutMs: number;
  readonly maxInFlight: number;
  readonly maxQueuedMessages: number;
  readonly maxQueuedBytes: number;
  readonly overflow: OverflowPolicy;
  readonly maxBuffered: number;
  readonly maxBufferedBytes: number;
  readonly connectTimeoutMs: number;
  readonly auth: AuthProvider | undefined;
  readonly plugins: readonly LifelinePlugin[];
  readonly outbox: OutboxStore | undefined;
  readonly now: () => number;
  readonly codecs: readonly Codec[];
}

const count = { min: 1, integer: true } as const;
const timeout = { min: 1, infinity: true } as const;

/** Apply defaults (with `??`, so 0 stays 0 and is then refused) and validate, throwing `TypeError`. */
export function resolveClientOptions(options: ClientOptions): ResolvedClientOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('Expected an options object');
  const d = clientDefaults;
  const queued = typeof options.maxQueued === 'number' ? { messages: options.maxQueued } : (options.maxQueued ?? {});
  const overflow = options.overflow ?? d.overflow;
  if (overflow !== 'wait' && overflow !== 'reject') throw new TypeError(`Expected \`overflow\` to be 'wait' or 'reject', got ${String(overflow)}`);
  const plugins = options.plugins ?? [];
  if (!Array.isArray(plugins)) throw new TypeError('Expected `plugins` to be an array');
  resolveReconnect(options.reconnect);
  return {
    ackTimeoutMs: checkNumber('ackTimeoutMs', options.ackTimeoutMs ?? d.ackTimeoutMs, timeout),
    maxInFlight: checkNumber('maxInFlight', options.maxInFlight ?? d.maxInFlight, count),
    maxQueuedMessages: checkNumber('maxQueued.messages', queued.messages ?? d.maxQueued.messages, { ...count, infinity: true }),
    maxQueuedBytes: checkNumber('maxQueued.bytes', queued.bytes ?? d.maxQueued.bytes, { min: 1, infinity: true }),
    overflow,
    maxBuffered: checkNumber('maxBuffered', options.maxBuffered ?? d.maxBuffered, count),
    maxBufferedBytes: checkNumber('maxBufferedBytes', options.maxBufferedBytes ?? d.maxBufferedBytes, { min: 1, infinity: true }),
    connectTimeoutMs: checkNumber('connectTimeoutMs', options.connectTimeoutMs ?? d.connectTimeoutMs, timeout),
    auth: options.auth,
    plugins,
    outbox: checkOutboxStore(options.outbox),
    now: options.now ?? (() => performance.now()),
    codecs: checkCodecs(options.codecs ?? d.codecs, 'codecs'),
  };
}
