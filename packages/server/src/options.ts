import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { jsonCodec, type Codec, type Json, type LifelinePlugin } from '@lifeline/protocol';
import { checkCodecs } from '@lifeline/protocol/internal';
import { resolveChannelOptions, type ChannelOptions, type ResolvedChannelOptions } from './channels/options.js';
import type { Engine } from './engine/engine.js';
import { isSharedEngine } from './shared/node.js';
import { defaultIdentityKey } from './identity.js';
import type { Session } from './session.js';
import type { SessionStore } from './store.js';

/** What `authenticate` is given besides the credentials. */
export interface AuthenticateOptions {
  /** Aborted when the answer is no longer needed (handshake timeout, connection closed, server closing). */
  readonly signal: AbortSignal;
}

/** What the handler learns about the message it is given. */
export interface HandlerContext {
  /** The session the message belongs to (the same object across resumes). */
  readonly session: Session;
  /** The message id the client chose (stable across retransmissions and session-lost re-sends). */
  readonly id: string;
  /** The client's sequence number for this message. */
  readonly seq: number;
  /**
   * True only when this message's claim was taken over from a node that died before recording
   * its outcome (guarantee 10, DESIGN.md "Engines"): the handler may have run there, at most once
   * before, and may have had some effect, so an idempotent handler checks its own records for
   * `id` before acting again. A node claims a session's queued messages in batches (up to
   * `MAX_BATCH`), the next batch while the current one's handlers run, so a node death can flag
   * up to two batches of messages whose handler never ran anywhere. No id is handed to a handler
   * twice otherwise, and a redelivery happens at most once. Always `false` on the embedded
   * `memoryEngine()`: one process has no other node to take over from.
   */
  readonly redelivered: boolean;
}

/** Bounds of the per-session queue of server → client messages waiting behind the send window. */
export interface QueueLimits {
  /** @default 10_000 */
  messages: number;
  /** Size of the encoded payloads in the session's codec: characters of JSON (bytes for ASCII), bytes for a binary codec. @default 16 MiB */
  bytes: number;
}

export type OverflowPolicy = 'wait' | 'reject';

/**
 * A token bucket on what one client sends, counted in frames (each frame of a batch counts, so
 * a batch of 4096 costs 4096). One bucket per session, kept across its reconnects; a connection
 * has its own until its handshake binds it to a session.
 */
export interface RateLimit {
  /** Sustained frames per second. @default 10_000 */
  messagesPerSecond: number;
  /**
   * Bucket size: frames accepted at once above the sustained rate. A WebSocket message with
   * more frames than this passes only when the bucket is full (it then owes the rest).
   * @default 2 × messagesPerSecond
   */
  burst: number;
}

export interface ServerOptions {
  /** TCP port to listen on; 0 picks a free one (read it from `server.port`). Ignored with `server`. @default 0 */
  port?: number;
  /**
   * Interface to listen on. The default accepts local connections only; `'0.0.0.0'` (or `'::'`)
   * listens publicly. Ignored with `server`.
   * @default '127.0.0.1'
   */
  host?: string;
  /** Attach to this existing `http.Server` (its `upgrade` event) instead of listening on `port`/`host`. @default undefined */
  server?: HttpServer;
  /** Only accept WebSocket upgrades for this URL path (e.g. `'/ws'`). @default undefined (any path) */
  path?: string;
  /**
   * Called once per client message, in `seq` order, one at a time per session. Its return value
   * (or the value its promise resolves to) travels back in the ack; `undefined` becomes `null`.
   * A throw or rejection becomes an error ack with the error's string `code` (else `ERR_HANDLER`).
   */
  handler(data: Json, ctx: HandlerContext): unknown;
  /**
   * Turns `hello.auth` into an identity (any value). Returning `false`, `null` or `undefined`
   * refuses the credentials: close 4401, final for the client. Throwing or rejecting means the
   * check could not be made (an auth backend down): it is reported through the server's `error`
   * event and the client gets `bye` 1013 with `retryMs: overloadRetryMs` and retries, resuming
   * its session. Bounded by `handshakeTimeoutMs`: `signal` aborts when the handshake times out
   * or the connection closes, so a lookup that hangs can be cancelled. Without it, every identity
   * is `null`.
   * @default undefined
   */
  authenticate?(auth: Json | undefined, req: IncomingMessage, options: AuthenticateOptions): unknown;
  /**
   * The stable key of an identity: a session may be resumed only under an identity with the same
   * key, and `maxSessionsPerIdentity` counts by it. It must not change when the client's token is
   * refreshed (leave out `iat`, `exp`, nonces). Only its SHA-256 is stored.
   * @default an object's string or number `sub`, else its `id`, else its JSON with sorted keys
   * (a value JSON cannot encode, such as a cycle, matches only the same object)
   */
  identityKey?(identity: unknown): string;
  /** How long a detached session stays resumable. @default 120_000 */
  resumeWindowMs?: number;
  /** Interval between the server's pings on each connection. @default 15_000 */
  heartbeatIntervalMs?: number;
  /** A connection silent for this long is dropped (its session is detached, not ended). @default 30_000 */
  heartbeatTimeoutMs?: number;
  /** A connection without a valid `hello` (and a finished `authenticate`) after this long is closed with 4408. @default 10_000 */
  handshakeTimeoutMs?: number;
  /** Largest WebSocket message accepted; `ws` closes larger ones with 1009. Announced as `welcome.max`. @default 1_048_576 */
  maxPayloadBytes?: number;
  /**
   * The client send window announced as `welcome.win`; the result cache keeps the outcomes of
   * this many seqs, as long as they fit in `maxResultCacheBytes`. On one node the client's `got`
   * frees them as it receives their acks, so only a burst still being answered holds many; a
   * shared engine has no `got` and keeps its span for as long as a busy session lives, in Redis
   * (docs/performance.md, "the window").
   * @default 65_535 on one node (MQTT's default receive maximum); 1_024 with an `engine` that has `sessions`
   */
  maxInFlight?: number;
  /**
   * Characters of encoded results (and error answers) the result cache of one session keeps for
   * retransmissions, on top of the `maxInFlight` count. Oldest evicted first; a retransmission of
   * an evicted message is answered `ERR_RESULT_EVICTED` and not handled again. An outcome larger
   * than this is sent once and never cached. Bounds what a detached session holds for its
   * whole resume window.
   * @default 4 MiB
   */
  maxResultCacheBytes?: number;
  /**
   * Bytes of client messages one session may hold for its handler (messages that wait behind a
   * busy async handler, counted as the WebSocket messages that carried them). Above it the
   * server stops reading the socket until the handler has worked the queue down to half of it:
   * backpressure, not an error (breaking `maxInFlight` stays a 4400). The same bound applies to
   * frames a connection sends after `hello` while `authenticate` runs; reading pauses as soon as
   * one is held, and more than this before `welcome` is closed with 4400.
   * @default 8 MiB
   */
  maxInboundBytes?: number;
  /**
   * Per-session bound of server → client messages queued behind the window; a number bounds
   * messages only. Its `bytes` also bound the messages in flight (sent, not yet acknowledged): a
   * message is sent only while those and it fit, or when none is in flight.
   * @default { messages: 10_000, bytes: 16 MiB }
   */
  maxQueued?: number | Partial<QueueLimits>;
  /**
   * What `session.send()` does when the queue is full: wait for room (within its deadline) or
   * reject with `QueueFullError`. The waiting senders are bounded too, by `maxQueued` again
   * (messages and bytes): past that even `'wait'` rejects with `QueueFullError`, so a client that
   * never acknowledges costs at most three times `maxQueued.bytes` (queued, waiting, in flight).
   * @default 'wait'
   */
  overflow?: OverflowPolicy;
  /** Default deadline of `session.send()`; `Infinity` waits until the session ends. @default 30_000 */
  ackTimeoutMs?: number;
  /**
   * Where session records (id, token hash, identity key, expiry) live. Without one, in this
   * process: each live session keeps its own record, as a `MemorySessionStore` would (lost on
   * restart), without a map of them beside the sessions.
   */
  store?: SessionStore;
  /** Observers called with isolation (see `LifelinePlugin`). @default [] */
  plugins?: readonly LifelinePlugin[];
  /** Wall clock in ms since the epoch (`msg.ts`, pings, pongs, record expiry). @default Date.now */
  now?: () => number;
  /**
   * Most connections in their handshake at once (upgraded, no `welcome` yet, plus TCP connections
   * still sending their upgrade request when the server owns its `http.Server`). A connection
   * over it gets `bye` 1013 with `retryMs: overloadRetryMs` and is closed with 1013 at once.
   * @default 1024
   */
  maxPendingHandshakes?: number;
  /**
   * Most sessions held at once, attached or resumable. A `hello` that would start one more gets
   * `bye` 1013 with `retryMs: overloadRetryMs` and close 1013; resumes are still served. An empty
   * detached session costs a few KB (3 to 8 KB of heap measured, about 5 KB of RSS in issue 9),
   * so the default bounds a connect-hello-drop flood to a few hundred MB, while staying above
   * what one Node process usually serves at once; `Infinity` removes the bound.
   * @default 50_000
   */
  maxSessions?: number;
  /**
   * Most sessions one identity (by `identityKey`) may hold, when `authenticate` is set. A new
   * session over it ends the identity's session detached the longest (it can no longer be
   * resumed: session `close` with reason `evicted`); when all of them are attached, the `hello`
   * gets `bye` 1013 with `retryMs: overloadRetryMs` and close 1013. If `authenticate` returns the
   * same value for every client (a shared API key), return a per-client identity or raise this.
   * @default 100
   */
  maxSessionsPerIdentity?: number;
  /** `retryMs` sent with a 1013 refusal (`maxPendingHandshakes`, `maxSessions`, `maxSessionsPerIdentity`, a throwing `authenticate`); clients add jitter. @default 1_000 */
  overloadRetryMs?: number;
  /**
   * Frames per second one client may send. Breaking it gets `bye` 4429 with `retryMs` (until the
   * bucket is full again) and close 4429; the client reconnects after `retryMs` and resumes, and
   * the frames of the refused message are retransmitted then. Off by default: a limit low enough
   * to stop a flood is below what one pipelining client legitimately sends (150k msg/s measured
   * in bench/), and memory is bounded without it (the window, `maxPayloadBytes`,
   * `slowClientTimeoutMs`). Set it on public endpoints, e.g. `{ messagesPerSecond: 10_000 }`.
   * @default false
   */
  rateLimit?: false | Partial<RateLimit>;
  /**
   * A connection whose socket buffers more than the high-water mark (4 MiB) for this long (the
   * client does not read) is terminated; its session stays resumable. `Infinity` never sheds.
   * @default 30_000
   */
  slowClientTimeoutMs?: number;
  /**
   * Most connections from one remote address that have not finished their handshake: TCP
   * connections still sending their upgrade request (when the server owns its `http.Server`)
   * plus upgraded ones without `welcome`. Over it a TCP connection gets HTTP 503 at once (an
   * upgraded one `bye` 1013), so one address cannot take every `maxPendingHandshakes` slot.
   * @default 64
   */
  maxPendingHandshakesPerAddress?: number;
  /**
   * The codecs this server speaks (protocol.md, "Codecs"). Each session takes the first codec of
   * its client's `hello.codecs` found here (a client that names none speaks `json`) and keeps it
   * for life; a client offering none of these is closed with 4406.
   * @default [jsonCodec]
   */
  codecs?: readonly Codec[];
  /**
   * Publish/subscribe with history (DESIGN.md "Channels", guarantee 9): who may subscribe
   * (`authorize`), what presence shows (`presence`), the history kept per channel
   * (`historySize`, `historyTtlMs`), and the bounds per connection (`maxSubscriptions`, `window`).
   * Each field has its own default (`channelDefaults`).
   * @default {} (every subscription allowed, 1,000 publications kept for 10 minutes)
   */
  channels?: ChannelOptions;
  /**
   * Where channel logs and presence live, and how publications reach the other nodes
   * (DESIGN.md "Engines"). The default keeps them in this process (closed with the server); a
   * given engine is the caller's to close.
   * @default memoryEngine()
   */
  engine?: Engine;
  /**
   * On an engine with session state (several nodes, DESIGN.md guarantee 10): a node whose
   * heartbeat is older than this is dead, and another node may take over the message its
   * handler was running (`ctx.redelivered`). The heartbeat is written every third of it.
   * @default 10_000
   */
  nodeTimeoutMs?: number;
}

/**
 * The push window for a client whose `hello` names none (`hello.win`; the reference client always
 * does): what the client holds, not the server's own `maxInFlight`, bounds what it is sent.
 */
export const HELLO_WIN_DEFAULT = 1_024;

export const serverDefaults = Object.freeze({
  port: 0,
  host: '127.0.0.1',
  resumeWindowMs: 120_000,
  heartbeatIntervalMs: 15_000,
  heartbeatTimeoutMs: 30_000,
  handshakeTimeoutMs: 10_000,
  maxPayloadBytes: 1024 * 1024,
  maxInFlight: 65_535,
  /** `maxInFlight`'s default with an engine that has `sessions`: its result cache has no `got`. */
  maxInFlightShared: 1_024,
  maxResultCacheBytes: 4 * 1024 * 1024,
  maxInboundBytes: 8 * 1024 * 1024,
  maxQueued: Object.freeze({ messages: 10_000, bytes: 16 * 1024 * 1024 }) as Readonly<QueueLimits>,
  overflow: 'wait' as OverflowPolicy,
  ackTimeoutMs: 30_000,
  maxPendingHandshakes: 1024,
  maxSessions: 50_000,
  maxSessionsPerIdentity: 100,
  overloadRetryMs: 1_000,
  rateLimit: false as false | Readonly<RateLimit>,
  slowClientTimeoutMs: 30_000,
  maxPendingHandshakesPerAddress: 64,
  codecs: Object.freeze([jsonCodec]) as readonly Codec[],
  nodeTimeoutMs: 10_000,
});

/** What `rateLimit: {}` means: 10k frames/s, bursts of 20k. */
export const rateLimitDefaults: Readonly<RateLimit> = Object.freeze({ messagesPerSecond: 10_000, burst: 20_000 });

/** Options after defaults; what the rest of the package reads. */
export interface ResolvedOptions {
  readonly port: number;
  readonly host: string;
  readonly server: HttpServer | undefined;
  readonly path: string | undefined;
  readonly handler: (data: Json, ctx: HandlerContext) => unknown;
  readonly authenticate: ((auth: Json | undefined, req: IncomingMessage, options: AuthenticateOptions) => unknown) | undefined;
  readonly identityKey: (identity: unknown) => string;
  readonly resumeWindowMs: number;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  readonly maxPayloadBytes: number;
  readonly maxInFlight: number;
  readonly maxResultCacheBytes: number;
  readonly maxInboundBytes: number;
  readonly maxQueued: Readonly<QueueLimits>;
  readonly overflow: OverflowPolicy;
  readonly ackTimeoutMs: number;
  readonly plugins: readonly LifelinePlugin[];
  readonly now: () => number;
  readonly maxPendingHandshakes: number;
  readonly maxSessions: number;
  readonly maxSessionsPerIdentity: number;
  readonly overloadRetryMs: number;
  readonly rateLimit: false | Readonly<RateLimit>;
  readonly slowClientTimeoutMs: number;
  readonly maxPendingHandshakesPerAddress: number;
  readonly codecs: readonly Codec[];
  readonly channels: ResolvedChannelOptions;
  readonly engine: Engine | undefined;
  readonly nodeTimeoutMs: number;
}

/** setTimeout clamps longer delays to 1 ms, so no finite duration may exceed this. */
export const MAX_TIMER_MS = 2_147_483_647;

function integer(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

function duration(name: string, value: number, min: number, allowInfinity = false): number {
  if (allowInfinity && value === Infinity) return value;
  return integer(name, value, min, MAX_TIMER_MS);
}

/** An integer bound where `Infinity` means none. */
function bound(name: string, value: number, min: number): number {
  return value === Infinity ? value : integer(name, value, min);
}

function queueLimits(value: ServerOptions['maxQueued']): Readonly<QueueLimits> {
  const d = serverDefaults.maxQueued;
  const given = typeof value === 'number' ? { messages: value } : (value ?? {});
  return Object.freeze({
    messages: integer('maxQueued.messages', given.messages ?? d.messages, 1),
    bytes: integer('maxQueued.bytes', given.bytes ?? d.bytes, 1),
  });
}

function rateLimit(value: ServerOptions['rateLimit']): false | Readonly<RateLimit> {
  if (value === undefined || value === false) return false;
  if (typeof value !== 'object' || value === null) throw new TypeError(`rateLimit must be false or { messagesPerSecond, burst }, got ${String(value)}`);
  const perSecond = value.messagesPerSecond ?? rateLimitDefaults.messagesPerSecond;
  if (typeof perSecond !== 'number' || !Number.isFinite(perSecond) || perSecond <= 0) {
    throw new TypeError(`rateLimit.messagesPerSecond must be a finite number above 0, got ${String(perSecond)}`);
  }
  const burst = integer('rateLimit.burst', value.burst ?? Math.max(1, Math.ceil(perSecond * 2)), 1);
  return Object.freeze({ messagesPerSecond: perSecond, burst });
}

const engineMethods = ['publish', 'history', 'position', 'listen', 'presenceAdd', 'presenceRemove', 'presence', 'close'] as const;

function engineOption(engine: Engine | undefined): Engine | undefined {
  if (engine === undefined) return undefined;
  const missing = typeof engine === 'object' && engine !== null ? engineMethods.filter((m) => typeof engine[m] !== 'function') : engineMethods;
  if (missing.length > 0) throw new TypeError(`engine must implement Engine (missing ${missing.join(', ')})`);
  return engine;
}

/** Apply defaults (with `??`, so 0 stays 0) and validate up front: a bad option fails at construction. */
export function resolveOptions(options: ServerOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('createServer() needs an options object');
  if (typeof options.handler !== 'function') throw new TypeError('options.handler must be a function');
  if (options.authenticate !== undefined && typeof options.authenticate !== 'function') {
    throw new TypeError('options.authenticate must be a function');
  }
  if (options.identityKey !== undefined && typeof options.identityKey !== 'function') {
    throw new TypeError('options.identityKey must be a function');
  }
  const overflow = options.overflow ?? serverDefaults.overflow;
  if (overflow !== 'wait' && overflow !== 'reject') throw new TypeError(`overflow must be 'wait' or 'reject', got ${String(overflow)}`);
  if (options.path !== undefined && (typeof options.path !== 'string' || !options.path.startsWith('/'))) {
    throw new TypeError(`path must start with '/', got ${String(options.path)}`);
  }
  const heartbeatIntervalMs = duration('heartbeatIntervalMs', options.heartbeatIntervalMs ?? serverDefaults.heartbeatIntervalMs, 1);
  const heartbeatTimeoutMs = duration('heartbeatTimeoutMs', options.heartbeatTimeoutMs ?? serverDefaults.heartbeatTimeoutMs, 1);
  return {
    port: integer('port', options.port ?? serverDefaults.port, 0, 65_535),
    host: options.host ?? serverDefaults.host,
    server: options.server,
    path: options.path,
    handler: options.handler,
    authenticate: options.authenticate,
    identityKey: options.identityKey ?? defaultIdentityKey,
    resumeWindowMs: duration('resumeWindowMs', options.resumeWindowMs ?? serverDefaults.resumeWindowMs, 0),
    heartbeatIntervalMs,
    heartbeatTimeoutMs,
    handshakeTimeoutMs: duration('handshakeTimeoutMs', options.handshakeTimeoutMs ?? serverDefaults.handshakeTimeoutMs, 1),
    maxPayloadBytes: integer('maxPayloadBytes', options.maxPayloadBytes ?? serverDefaults.maxPayloadBytes, 64),
    maxInFlight: integer(
      'maxInFlight',
      options.maxInFlight ?? (isSharedEngine(options.engine) ? serverDefaults.maxInFlightShared : serverDefaults.maxInFlight),
      1,
      1_000_000,
    ),
    maxResultCacheBytes: integer('maxResultCacheBytes', options.maxResultCacheBytes ?? serverDefaults.maxResultCacheBytes, 0),
    maxInboundBytes: integer('maxInboundBytes', options.maxInboundBytes ?? serverDefaults.maxInboundBytes, 1),
    maxQueued: queueLimits(options.maxQueued),
    overflow,
    ackTimeoutMs: duration('ackTimeoutMs', options.ackTimeoutMs ?? serverDefaults.ackTimeoutMs, 0, true),
    plugins: options.plugins ?? [],
    now: options.now ?? Date.now,
    maxPendingHandshakes: integer('maxPendingHandshakes', options.maxPendingHandshakes ?? serverDefaults.maxPendingHandshakes, 1),
    maxSessions: bound('maxSessions', options.maxSessions ?? serverDefaults.maxSessions, 1),
    maxSessionsPerIdentity: bound('maxSessionsPerIdentity', options.maxSessionsPerIdentity ?? serverDefaults.maxSessionsPerIdentity, 1),
    overloadRetryMs: duration('overloadRetryMs', options.overloadRetryMs ?? serverDefaults.overloadRetryMs, 0),
    rateLimit: rateLimit(options.rateLimit),
    slowClientTimeoutMs: duration('slowClientTimeoutMs', options.slowClientTimeoutMs ?? serverDefaults.slowClientTimeoutMs, 1, true),
    maxPendingHandshakesPerAddress: integer(
      'maxPendingHandshakesPerAddress',
      options.maxPendingHandshakesPerAddress ?? serverDefaults.maxPendingHandshakesPerAddress,
      1,
    ),
    codecs: checkCodecs(options.codecs ?? serverDefaults.codecs, 'codecs'),
    channels: resolveChannelOptions(options.channels),
    engine: engineOption(options.engine),
    nodeTimeoutMs: duration('nodeTimeoutMs', options.nodeTimeoutMs ?? serverDefaults.nodeTimeoutMs, 30),
  };
}
