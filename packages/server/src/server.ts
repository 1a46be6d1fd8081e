import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { EventEmitter } from 'eventemitter3';
import { WebSocketServer } from 'ws';
import type WebSocket from 'ws';
import { CloseCode, type PluginHook } from '@lifeline/protocol';
import { Deadlines, PluginHost, now as monotonic, type Outgoing } from '@lifeline/protocol/internal';
import { Admission } from './admission.js';
import { Channels, type ChannelHistory, type ChannelHistoryOptions, type ChannelPublishOptions, type ChannelPublishResult } from './channels/channels.js';
import type { PresenceMember } from './engine/engine.js';
import { memoryEngine } from './engine/memory-engine.js';
import { Connection } from './connection.js';
import type { ConnectionHooks, ProtocolErrorInfo } from './connection-hooks.js';
import { Handshakes } from './handshake.js';
import { Heartbeat } from './heartbeat.js';
import { Limits, type LimitInfo } from './limits.js';
import { resolveOptions, type ResolvedOptions, type ServerOptions } from './options.js';
import { Registry } from './registry.js';
import { SessionImpl, type Session, type SessionDeps, type SessionLifecycle } from './session.js';
import { SharedNode, isSharedEngine } from './shared/node.js';
import { SharedSessions, noStore, sharedLimits } from './shared/shared-sessions.js';
import type { PendingPush } from './shared/shared-outbound.js';

/** A plugin hook threw; the plugin host isolated it. */
export interface PluginErrorInfo {
  readonly error: unknown;
  readonly plugin: string;
  readonly hook: PluginHook;
}

export interface ServerEvents {
  /** A new logical session; not emitted again when it is resumed. */
  session: (session: Session) => void;
  /** A connection was closed for bad input (its code and reason); other connections are untouched. */
  'protocol-error': (info: ProtocolErrorInfo) => void;
  /** A connection was refused or shed by a limit (`maxPendingHandshakes`, `maxPendingHandshakesPerAddress`, `maxSessions`, `maxSessionsPerIdentity`, `rateLimit`, `slowClientTimeoutMs`). */
  limit: (info: LimitInfo) => void;
  /** An unexpected failure (a store that rejected, a listener that threw). The server carries on. */
  error: (error: unknown) => void;
  'plugin-error': (info: PluginErrorInfo) => void;
}

export interface CloseOptions {
  /** Bound on the whole shutdown: handlers get until then to finish, sockets are terminated then. @default 5_000 */
  timeoutMs?: number;
  /** Sent in `bye`: how long clients should wait before reconnecting. @default 1_000 */
  retryMs?: number;
}

export interface LifelineServer extends EventEmitter<ServerEvents> {
  /** The bound TCP port (throws before `listen()` resolved). */
  readonly port: number;
  /** Live sessions (attached or resumable) by id. */
  readonly sessions: ReadonlyMap<string, Session>;
  /** Start accepting WebSocket upgrades; resolves when listening. */
  listen(): Promise<void>;
  /**
   * Publish `data` (any JSON value) to `channel`: resolves with its offset and the channel's
   * epoch once the engine stored it, then every subscriber on every node gets it, in offset
   * order. With `id`, publishing again while the first is in the history stores nothing and
   * resolves with the first offset. Throws `TypeError` for a bad name or data JSON cannot carry,
   * `ChannelLimitError` when an engine bound refuses it.
   */
  publish(channel: string, data: unknown, options?: ChannelPublishOptions): Promise<ChannelPublishResult>;
  /** A page of `channel`'s history after `since` (oldest first, at most `limit`), with the channel's position. */
  history(channel: string, options?: ChannelHistoryOptions): Promise<ChannelHistory>;
  /** Who is subscribed to `channel` now, on every node (the engine's list). */
  presence(channel: string): Promise<PresenceMember[]>;
  /**
   * Shut down: stop accepting, let running handlers finish (bounded), send acks, `bye` 1001
   * with `retryMs` and close 1001 to every client, end every session (pending `send()`s reject
   * with `ClosedError`). Closes the http server only if it created it. Idempotent.
   */
  close(options?: CloseOptions): Promise<void>;
}

export function createServer(options: ServerOptions): LifelineServer {
  return new Server(options);
}

/** Resolve after `promise` or `ms`, whichever comes first; never rejects. */
function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, ms))));
  return Promise.race([promise.then(() => undefined, () => undefined), timeout]).finally(() => clearTimeout(timer));
}

function refuseUpgrade(socket: Duplex, status: number, text: string): void {
  socket.on('error', () => {});
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

const pathOf = (url: string | undefined): string => {
  if (url === undefined) return '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
};

/**
 * The composition root: it builds the parts and gives each one the narrow view of the others it
 * needs (`ConnectionHooks`, `HandshakeDeps`, `SessionDeps`), and owns what they share — the
 * connections, the one deadline timer for every `session.send()`, and whether it is closing.
 */
class Server extends EventEmitter<ServerEvents> implements LifelineServer {
  private readonly options: ResolvedOptions;
  private readonly plugins: PluginHost;
  private readonly sendDeadlines: Deadlines<Outgoing>;
  private readonly heartbeat: Heartbeat;
  private readonly registry: Registry;
  private readonly limits: Limits;
  private readonly reportError: (error: unknown) => void;
  /** True once `close()` began: no new messages are accepted, no new sessions start. */
  private closing = false;
  private readonly handshakes: Handshakes;
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<Connection>();
  private readonly hooks: ConnectionHooks;
  private readonly admission: Admission;
  private readonly channels: Channels;
  /** On an engine with session state: this server as one node of many (guarantee 10). */
  private readonly node: SharedNode | undefined;
  private readonly shared: SharedSessions | undefined;
  private readonly pushDeadlines: Deadlines<PendingPush> | undefined;
  /** TCP connections refused before their upgrade (their request may still arrive): never upgraded. */
  private readonly refusedSockets = new WeakSet<Duplex>();
  private http: HttpServer | undefined;
  private ownsHttp = false;
  private listening: Promise<void> | undefined;
  private closed: Promise<void> | undefined;
  private onAllClosed: (() => void) | undefined;

  constructor(options: ServerOptions) {
    super();
    const resolved = resolveOptions(options);
    this.options = resolved;
    const reportError = (error: unknown) => this.emitSafely('error', error);
    this.reportError = reportError;
    const engine = resolved.engine;
    const sharedEngine = isSharedEngine(engine) ? engine : undefined;
    // On a shared engine the engine is the store: sessions are created, rotated and ended there.
    const store = sharedEngine !== undefined ? noStore : options.store;
    const plugins = new PluginHost(resolved.plugins, (error, plugin, hook) => this.emitSafely('plugin-error', { error, plugin, hook }));
    this.plugins = plugins;
    this.sendDeadlines = new Deadlines<Outgoing>(
      (item) => {
        try {
          item.queue.expire(item);
        } catch (error) {
          reportError(error);
        }
      },
      { inline: true },
    );
    // A plugin's onClock wants the samples that only the answers to our own pings give.
    const wantsClock = resolved.plugins.some((p) => typeof p.onClock === 'function');
    this.heartbeat = new Heartbeat(this.connections, resolved.heartbeatIntervalMs, resolved.heartbeatTimeoutMs, resolved.now, reportError, !wantsClock);
    this.registry = new Registry(resolved, store, reportError);
    this.limits = new Limits(resolved, plugins, this.connections, (info) => this.emitSafely('limit', info), reportError);
    const closing = () => this.closing;
    const channels = new Channels(resolved.channels, resolved.engine ?? memoryEngine(), resolved.engine === undefined, reportError);
    this.channels = channels;
    const registry = this.registry;
    // The registry forgets an ended session; the channels take it out of every presence list.
    let lifecycle: SessionLifecycle = {
      attached: (session) => registry.attached(session),
      detached: (session) => registry.detached(session),
      ended: (session) => {
        registry.ended(session);
        channels.sessionEnded(session.id);
      },
    };
    let shared: SessionDeps['shared'];
    const limits = sharedLimits(resolved);
    if (sharedEngine !== undefined) {
      const node = new SharedNode(sharedEngine, resolved.nodeTimeoutMs, reportError, (sid) => this.shared?.moved(sid), limits.ttlMs);
      this.node = node;
      this.shared = new SharedSessions(node, registry.sessions, limits, resolved, lifecycle, reportError);
      lifecycle = this.shared;
      this.pushDeadlines = new Deadlines<PendingPush>((p) => p.owner.expire(p), { resolutionMs: 5 });
      shared = { node, pushDeadlines: this.pushDeadlines };
    }
    const sessionDeps: SessionDeps = {
      options: resolved,
      plugins,
      sendDeadlines: this.sendDeadlines,
      lifecycle,
      closing,
      reportError,
      shared,
    };
    this.handshakes = new Handshakes({
      options: resolved,
      plugins,
      store: this.registry.store,
      registry: this.registry,
      limits: this.limits,
      heartbeat: this.heartbeat,
      closing,
      newSession: (id, identity, codec) => new SessionImpl(id, identity, codec, sessionDeps),
      onSession: (session) => this.emitSafely('session', session),
      reportError,
      shared: this.node === undefined ? undefined : { node: this.node, limits },
    });
    this.admission = new Admission(resolved.handshakeTimeoutMs, resolved.maxPendingHandshakesPerAddress);
    this.hooks = {
      plugins,
      now: resolved.now,
      limits: this.limits,
      onHandshakeFrames: (conn, frames, frameBytes) => this.handshakes.onFrames(conn, frames, frameBytes),
      openChannels: (conn, served) => {
        const link = {
          codec: served.codec,
          get writable() {
            return conn.writable;
          },
          push: (frame: unknown) => conn.push(frame),
        };
        return channels.open(link, registry.get(served.id) as SessionImpl);
      },
      onOpened: (conn) => this.admission.finished(conn),
      onClosed: (conn) => {
        this.connections.delete(conn);
        this.handshakes.forget(conn);
        this.admission.finished(conn);
        this.heartbeat.delete(conn);
        if (this.connections.size === 0) this.onAllClosed?.();
      },
      reportError,
      reportProtocolError: (info: ProtocolErrorInfo) => this.emitSafely('protocol-error', info),
    };
    // maxPayload makes ws itself close oversized messages with 1009; compression costs more CPU than it saves here.
    this.wss = new WebSocketServer({ noServer: true, maxPayload: resolved.maxPayloadBytes, perMessageDeflate: false, clientTracking: false });
    this.wss.on('error', reportError);
  }

  get port(): number {
    const address = this.http?.address();
    if (address === null || address === undefined || typeof address === 'string') {
      throw new Error('the server is not listening on a TCP port (await server.listen() first)');
    }
    return address.port;
  }

  get sessions(): ReadonlyMap<string, Session> {
    return this.registry.sessions;
  }

  publish(channel: string, data: unknown, options?: ChannelPublishOptions): Promise<ChannelPublishResult> {
    return this.channels.publish(channel, data, options);
  }

  history(channel: string, options?: ChannelHistoryOptions): Promise<ChannelHistory> {
    return this.channels.history(channel, options);
  }

  presence(channel: string): Promise<PresenceMember[]> {
    return this.channels.members(channel);
  }

  listen(): Promise<void> {
    this.listening ??= this.start().catch((error: unknown) => {
      this.listening = undefined;
      throw error;
    });
    return this.listening;
  }

  close(options: CloseOptions = {}): Promise<void> {
    this.closed ??= this.shutdown(Math.max(0, options.timeoutMs ?? 5_000), Math.max(0, options.retryMs ?? 1_000));
    return this.closed;
  }

  private async start(): Promise<void> {
    if (this.closing) throw new Error('the server was closed');
    if (this.node !== undefined) {
      await this.node.start();
      this.shared?.start();
    }
    const { server, port, host } = this.options;
    const http = server ?? createHttpServer(this.onRequest);
    this.ownsHttp = server === undefined;
    this.http = http;
    http.on('upgrade', this.onUpgrade);
    if (!this.ownsHttp) return;
    // Every TCP connection of our own http.Server is a handshake in the making: count and bound it.
    http.on('connection', this.onSocket);
    try {
      await new Promise<void>((resolve, reject) => {
        const onError = (error: Error) => {
          http.off('listening', onListening);
          reject(error);
        };
        const onListening = () => {
          http.off('error', onError);
          resolve();
        };
        http.once('error', onError);
        http.once('listening', onListening);
        http.listen(port, host);
      });
    } catch (error) {
      http.off('upgrade', this.onUpgrade);
      this.http = undefined;
      throw error;
    }
    http.on('error', this.reportError);
  }

  private readonly onRequest = (_req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(426, { 'Content-Type': 'text/plain', Connection: 'close' });
    res.end('This is a Lifeline WebSocket endpoint: connect with a WebSocket client.\n');
  };

  /**
   * A TCP connection of our own http.Server, before any byte of its request: it takes a pending
   * slot until its upgrade request arrives (or `handshakeTimeoutMs` passes, then it is destroyed).
   */
  private readonly onSocket = (socket: Socket): void => {
    try {
      const o = this.options;
      if (this.admission.raw >= o.maxPendingHandshakes) {
        this.refuseSocket(socket, `server busy: ${o.maxPendingHandshakes} connections pending`);
      } else if (!this.admission.accept(socket)) {
        this.refuseSocket(socket, `server busy: ${o.maxPendingHandshakesPerAddress} handshakes pending from this address`);
      }
    } catch (error) {
      this.reportError(error);
      socket.destroy();
    }
  };

  /** HTTP 503 before the request is read, then the socket is destroyed once that is written: one write. */
  private refuseSocket(socket: Socket, reason: string): void {
    const retryMs = this.options.overloadRetryMs;
    this.refusedSockets.add(socket);
    socket.on('error', () => {});
    const retryAfter = Math.max(1, Math.ceil(retryMs / 1000));
    socket.end(`HTTP/1.1 503 Service Unavailable\r\nRetry-After: ${retryAfter}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () => socket.destroy());
    this.emitSafely('limit', { limit: 'pending-handshakes', code: 503, reason, sessionId: undefined, retryMs });
  }

  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    try {
      if (this.refusedSockets.has(socket)) {
        socket.destroy();
        return;
      }
      this.admission.release(socket as Socket);
      const path = this.options.path;
      if (path !== undefined && pathOf(req.url) !== path) {
        // On a shared http.Server another upgrade listener may own this path.
        if (this.ownsHttp) refuseUpgrade(socket, 404, 'Not Found');
        return;
      }
      if (this.closing) {
        refuseUpgrade(socket, 503, 'Service Unavailable');
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, req));
    } catch (error) {
      this.reportError(error);
      socket.destroy();
    }
  };

  private onConnection(ws: WebSocket, req: IncomingMessage): void {
    const conn = new Connection(ws, req, this.hooks);
    this.connections.add(conn);
    if (this.closing) {
      conn.close(CloseCode.GoingAway, 'server shutting down');
      return;
    }
    if (this.admission.pendingOf(req.socket) >= this.options.maxPendingHandshakesPerAddress) {
      this.limits.refuseAddress(conn);
      return;
    }
    // Raw sockets still sending their request hold slots too.
    if (!this.limits.admitConnection(conn, this.handshakes.pending + this.admission.raw)) return;
    this.admission.upgraded(conn, req.socket);
    this.handshakes.begin(conn);
  }

  private async shutdown(timeoutMs: number, retryMs: number): Promise<void> {
    this.closing = true;
    const deadline = monotonic() + timeoutMs;
    const http = this.http;
    try {
      let httpClosed: Promise<void> = Promise.resolve();
      if (http !== undefined && this.ownsHttp) {
        httpClosed = new Promise((resolve) => http.close(() => resolve()));
      } else if (http !== undefined) {
        http.off('upgrade', this.onUpgrade);
      }
      const reason = 'server shutting down';
      for (const conn of this.connections) {
        if (conn.state === 'handshake') conn.goodbye(CloseCode.GoingAway, reason, retryMs);
      }

      const sessions: SessionImpl[] = [...this.registry.sessions.values()];
      const busy = sessions.filter((s) => !s.idle).map((s) => s.whenIdle());
      if (busy.length > 0) await within(Promise.all(busy), deadline - monotonic());
      for (const session of sessions) session.end('server-closed', CloseCode.GoingAway, { retryMs }, reason);
      for (const conn of this.connections) conn.close(CloseCode.GoingAway, reason);

      // Give the close handshakes the rest of the budget (and a moment even when none is left).
      if (this.connections.size > 0) {
        await within(new Promise<void>((resolve) => (this.onAllClosed = resolve)), Math.max(20, deadline - monotonic()));
      }
      for (const conn of [...this.connections]) conn.terminate('shutdown deadline');
      if (this.shared !== undefined && this.node !== undefined) {
        // The sessions stay in the engine, detached, for any other node; then this node leaves,
        // so a claim still held by a handler that outlived the deadline may be taken over at once.
        this.shared.stop();
        await within(this.shared.settled(), Math.max(20, deadline - monotonic()));
        await within(this.node.stop(), Math.max(20, deadline - monotonic()));
        this.pushDeadlines?.clear();
      }
      this.heartbeat.stop();
      this.limits.stop();
      this.handshakes.stop();
      this.admission.stop();
      this.registry.stop();
      await this.channels.close();
      this.sendDeadlines.clear();
      this.wss.close();
      if (http !== undefined && this.ownsHttp) {
        http.closeAllConnections();
        await within(httpClosed, Math.max(20, deadline - monotonic()));
      }
    } catch (error) {
      this.reportError(error);
    }
  }

  private emitSafely<K extends keyof ServerEvents>(event: K, ...args: Parameters<ServerEvents[K]>): void {
    try {
      (this.emit as (e: K, ...a: Parameters<ServerEvents[K]>) => boolean)(event, ...args);
    } catch (error) {
      // A throwing listener must not break the server; an 'error' listener that throws is ignored.
      if (event !== 'error') this.emitSafely('error', error);
    }
  }
}
