import { EventEmitter } from 'eventemitter3';
import {
  ClosedError,
  CloseCode,
  LifelineError,
  OutboxStoreError,
  ProtocolError,
  fatalCloseCodes,
  jsonCodec,
  type Codec,
  type Frame,
  type Json,
  type PluginContext,
  type WelcomeFrame,
} from '@lifeline/protocol';
import { FrameWriter, PluginHost, codecNamed } from '@lifeline/protocol/internal';
import { Transport, type CloseInfo, type HandshakeLink, type ReconnectInfo } from '@lifeline/transport';
import { closeError } from '@lifeline/transport/internal';
import type { ClientEvents, CloseOptions, ConnectOptions } from './events.js';
import { Inbox, REFETCH_CLOSE_CODE, type MessagesOptions, type ReceiveOptions } from './inbox.js';
import { clientDefaults, resolveClientOptions, type ClientOptions, type ResolvedClientOptions } from './options.js';
import { Outbox, type SendOptions } from './outbox.js';
import { StoreLink, type LoadedOutbox } from './outbox-store.js';
import { helloFields, reconcile, type SessionTicket } from './replay.js';
import { StateCell, type ClientState, type ClientStateChange } from './state.js';
import { withDeadline } from './wait.js';

/** The most one WebSocket message carries, in codec size units, whatever `welcome.max` allows. */
const MAX_BATCH = 256 * 1024;

interface Pending {
  resolve(): void;
  reject(error: Error): void;
}

/**
 * A Lifeline client session over a `Transport`: every `send()` is numbered, acknowledged with
 * the server handler's result, retransmitted across reconnects and settled by its deadline;
 * server messages are deduplicated and delivered in order. See DESIGN.md guarantees 1–6.
 */
export class LifelineClient extends EventEmitter<ClientEvents> {
  private readonly options: ResolvedClientOptions;
  private readonly transport: Transport;
  /** The session's codec (JSON until a `welcome` names another): every frame this client writes goes through it. */
  private codec: Codec = jsonCodec;
  /** Replaced with the codec; read it at each write, never keep it. */
  private writer: FrameWriter<unknown>;
  private readonly outbox: Outbox;
  private readonly inbox: Inbox;
  private readonly plugins: PluginHost;
  private readonly store: StoreLink | undefined;
  /** The first `connect()` loading the durable outbox, while it does. */
  private loading: Promise<void> | undefined;
  private readonly cell: StateCell;
  private ctx: PluginContext = { side: 'client', sessionId: undefined };
  private ticket: SessionTicket | undefined;
  /** The welcome of the connection being established (frames batched with it, the codec it chose). */
  private welcome: { frame: WelcomeFrame; rest: Frame[]; codec: Codec } | undefined;
  private openWaiters: Pending[] = [];
  private lastError: Error | undefined;
  private closing: Promise<void> | undefined;
  private downAt = 0;
  private needPump = false;
  private rtt = Number.NaN;
  private offset = Number.NaN;

  constructor(options: ClientOptions) {
    super();
    const o = resolveClientOptions(options);
    this.options = o;
    this.plugins = new PluginHost(o.plugins, (error, plugin, hook) => {
      this.emit('error', new Error(`plugin ${plugin} threw in ${hook}`, { cause: error }));
    });
    this.cell = new StateCell((next, change) => this.stateChanged(next, change));
    this.transport = new Transport({
      url: options.url,
      WebSocket: options.WebSocket,
      connectTimeoutMs: options.connectTimeoutMs,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      heartbeatTimeoutMs: options.heartbeatTimeoutMs,
      reconnect: options.reconnect,
      highWaterMarkBytes: options.highWaterMarkBytes,
      maxPayloadBytes: options.maxPayloadBytes,
      random: options.random,
      backoff: options.backoff,
      now: o.now,
      handshake: this.handshake,
    });
    this.writer = new FrameWriter(this.codec, this.write, MAX_BATCH, this.beforeFlush);
    this.store = o.outbox === undefined ? undefined : new StoreLink(o.outbox, (error) => this.emitSafely('error', error));
    const ctx = () => this.ctx;
    this.outbox = new Outbox({
      ackTimeoutMs: o.ackTimeoutMs,
      maxInFlight: o.maxInFlight,
      maxQueuedMessages: o.maxQueuedMessages,
      maxQueuedBytes: o.maxQueuedBytes,
      overflow: o.overflow,
      now: o.now,
      push: (frame) => this.writer.push(frame),
      writable: () => this.transport.writable,
      plugins: this.plugins,
      ctx,
      store: this.store,
    });
    this.inbox = new Inbox(
      {
        hasListeners: () => this.listenerCount('message') > 0,
        emit: (data, meta) => this.emitSafely('message', data, meta),
        cackDue: () => this.writer.schedule(),
        refetch: () => this.transport.drop(REFETCH_CLOSE_CODE, 'resuming to fetch the messages a full receive buffer skipped'),
        plugins: this.plugins,
        ctx,
        now: o.now,
      },
      o.maxBuffered,
      o.maxBufferedBytes,
    );
    const t = this.transport;
    t.on('open', this.onOpen);
    t.on('message', this.onMessage);
    t.on('close', this.onClose);
    t.on('error', this.onTransportError);
    t.on('reconnecting', this.onReconnecting);
    t.on('drain', () => this.outbox.pump());
  }

  get state(): ClientState {
    return this.cell.value;
  }

  /** The server's session id, once a `welcome` arrived. */
  get sessionId(): string | undefined {
    return this.ticket?.sid;
  }

  /** `send()` calls not yet settled. */
  get pending(): number {
    return this.outbox.pending;
  }

  /** Server messages held for `receive()` / `messages()`. */
  get buffered(): number {
    return this.inbox.buffered;
  }

  /** Last heartbeat round trip, ms (NaN before the first pong). */
  get rttMs(): number {
    return this.rtt;
  }

  /** Estimated server clock minus local clock, ms (NaN before the first pong). */
  get clockOffsetMs(): number {
    return this.offset;
  }

  /**
   * Connect and resolve on the first `welcome`. From 'connecting' or 'reconnecting' it waits for
   * the connection in progress. Rejects with `TimeoutError`, `AbortError`, `UnauthorizedError`,
   * `ProtocolError` or `ConnectionError`; after a failed first connect the client is 'idle' again
   * and queued sends keep waiting within their own deadlines.
   */
  connect(options: ConnectOptions = {}): Promise<void> {
    const state = this.cell.value;
    if (state === 'closed' || this.closing !== undefined) return Promise.reject(new ClosedError('the client is closed'));
    if (state === 'open') return Promise.resolve();
    let waiter!: Pending;
    const opened = new Promise<void>((resolve, reject) => {
      waiter = { resolve, reject };
    });
    this.openWaiters.push(waiter);
    if (state === 'idle') this.start();
    return withDeadline(opened, {
      timeoutMs: options.timeoutMs ?? this.options.connectTimeoutMs * clientDefaults.connectDeadlineFactor,
      signal: options.signal,
      what: 'connect()',
      cancel: () => this.abandonConnect(waiter),
    });
  }

  /**
   * Send `data` (any JSON-serialisable value); resolves with the server handler's result, rejects
   * with `RemoteError` (the handler threw), `ResultEvictedError` (processed earlier, result no
   * longer cached: outcome unknown), `AckTimeoutError` (deadline; see `maybeDelivered`),
   * `AbortError`, `QueueFullError`, `PayloadTooLargeError`, `ClosedError` or `TypeError`.
   * Before `connect()` the message queues and goes out once connected.
   */
  send<R = Json>(data: unknown, options?: SendOptions): Promise<R> {
    // Checked here until the send queue encodes with `codec.value()`, which refuses it itself
    // (issue 10): a payload the server's decoder would refuse must fail this call, not the link.
    try {
      this.codec.value(data);
    } catch (error) {
      return Promise.reject(error instanceof TypeError ? error : new TypeError(String(error), { cause: error }));
    }
    return this.outbox.send(data, options) as Promise<R>;
  }

  /** The next server message. Rejects with `TimeoutError` (default 30 s), `AbortError` or `ClosedError`. */
  receive<T = Json>(options?: ReceiveOptions): Promise<T> {
    return this.inbox.receive(options, clientDefaults.receiveTimeoutMs) as Promise<T>;
  }

  /** Server messages as an async iterator; it ends when the client closes. */
  messages<T = Json>(options?: MessagesOptions): AsyncIterableIterator<T> {
    return this.inbox.messages(options) as AsyncIterableIterator<T>;
  }

  /**
   * Close the session: optionally drain (bounded), send `bye` 1000, close the socket with 1000,
   * reject what is still pending with `ClosedError`, end iterators. Idempotent. Rejects with
   * `TimeoutError` / `AbortError` when the drain did not finish — the client is closed either way
   * (only the call that started the close rejects; later calls resolve once it is closed).
   */
  close(options: CloseOptions = {}): Promise<void> {
    // Only the call that started closing reports a drain failure; later calls resolve once closed.
    if (this.closing !== undefined) return this.closing.catch(() => {});
    if (this.cell.value === 'closed') return Promise.resolve();
    this.closing = this.closeSession(options);
    return this.closing;
  }

  override on<T extends EventEmitter.EventNames<ClientEvents>>(event: T, fn: EventEmitter.EventListener<ClientEvents, T>, context?: unknown): this {
    super.on(event, fn, context);
    if (event === 'message') queueMicrotask(this.drainInbox);
    return this;
  }

  override addListener<T extends EventEmitter.EventNames<ClientEvents>>(event: T, fn: EventEmitter.EventListener<ClientEvents, T>, context?: unknown): this {
    return this.on(event, fn, context);
  }

  override once<T extends EventEmitter.EventNames<ClientEvents>>(event: T, fn: EventEmitter.EventListener<ClientEvents, T>, context?: unknown): this {
    super.once(event, fn, context);
    if (event === 'message') queueMicrotask(this.drainInbox);
    return this;
  }

  private readonly drainInbox = (): void => this.inbox.drain();

  private async closeSession({ drain = false, timeoutMs = clientDefaults.closeTimeoutMs, signal }: CloseOptions): Promise<void> {
    this.outbox.closing();
    let failure: unknown;
    if (drain && this.outbox.pending > 0) {
      try {
        await withDeadline(this.outbox.settled(), { timeoutMs, signal, what: 'close({ drain })', cancel: () => {} });
      } catch (error) {
        failure = error;
      }
    }
    if (this.cell.value === 'open') {
      this.writer.push(this.codec.bye(CloseCode.Normal, 'client closed'));
      this.writer.flush();
    }
    this.shutdown('client closed', CloseCode.Normal);
    if (failure !== undefined) throw failure;
  }

  private start(): void {
    this.lastError = undefined;
    this.cell.set('connecting', 'connect()');
    const store = this.store;
    if (store === undefined || store.loaded) {
      this.openTransport();
      return;
    }
    // What an earlier run left is queued before the first connection, ahead of anything new.
    this.loading ??= this.restoreOutbox(store).finally(() => {
      this.loading = undefined;
    });
    void this.loading.then(() => {
      if (this.cell.value === 'connecting' && store.loaded) this.openTransport();
    });
  }

  private async restoreOutbox(store: StoreLink): Promise<void> {
    let loaded: LoadedOutbox;
    try {
      loaded = await store.load();
    } catch (error) {
      if (this.cell.value === 'connecting') {
        this.lastError = error as Error;
        this.cell.set('idle', 'the outbox store failed to load');
      }
      return;
    }
    if (this.cell.value === 'closed' || this.closing !== undefined) return; // they stay in the store
    if (loaded.skipped > 0) {
      this.emitSafely('error', new OutboxStoreError(`skipped ${loaded.skipped} entries of the outbox store that could not be sent (bad id or data)`));
    }
    if (loaded.messages.length === 0) return;
    this.outbox.restore(loaded.messages, (id, result, error) =>
      this.emitSafely('restored-settled', error === undefined ? { id, result: result as Json } : { id, error }),
    );
    this.emitSafely('restored', { ids: loaded.messages.map((m) => m.id) });
  }

  /** Emit without letting a throwing listener break the caller; the throw goes to 'error'. */
  private emitSafely<E extends EventEmitter.EventNames<ClientEvents>>(event: E, ...args: EventEmitter.EventArgs<ClientEvents, E>): void {
    try {
      this.emit(event, ...args);
    } catch (error) {
      if (event !== 'error') this.emitSafely('error', error instanceof Error ? error : new Error(String(error)));
    }
  }

  private openTransport(): void {
    this.transport.connect().catch((error: unknown) => {
      if (this.cell.value !== 'connecting') return; // cancelled or closed meanwhile
      this.lastError = error instanceof Error ? error : new Error(String(error));
      this.cell.set('idle', `connect failed: ${this.lastError.message}`);
    });
  }

  /** A `connect()` gave up (deadline or abort): stop connecting when nobody else waits. */
  private abandonConnect(waiter: Pending): void {
    const i = this.openWaiters.indexOf(waiter);
    if (i >= 0) this.openWaiters.splice(i, 1);
    if (this.openWaiters.length === 0 && this.cell.value === 'connecting') {
      this.transport.cancel('connect() gave up');
      this.cell.set('idle', 'connect() timed out or was aborted');
    }
  }

  /** Transport hook, once per connection: send `hello`, await `welcome`. */
  private readonly handshake = async (link: HandshakeLink, signal: AbortSignal): Promise<void> => {
    const { auth } = this.options;
    const credentials = typeof auth === 'function' ? await auth() : auth;
    signal.throwIfAborted();
    const ticket = this.ticket;
    const delivered = ticket === undefined ? 0 : this.inbox.presentDelivered();
    const hello = jsonCodec.hello(helloFields(credentials, this.options.maxBuffered, ticket, delivered, this.options.codecs));
    this.countBytes(0, hello.length);
    link.send(hello);
    const reply = await link.receive();
    this.countBytes(reply.length, 0);
    let frames: Frame[];
    try {
      frames = jsonCodec.decode(reply);
    } catch (error) {
      throw this.reportProtocolError(toProtocolError(error));
    }
    const first = frames[0] as Frame;
    if (first.t === 'bye') {
      if (first.retryMs !== undefined) this.transport.retryAfter(first.retryMs);
      throw closeError(first.code, first.reason);
    }
    if (first.t !== 'welcome') throw this.reportProtocolError(new ProtocolError(`expected a welcome frame, got ${first.t}`));
    const codec = codecNamed(first.codec, this.options.codecs);
    if (codec === undefined) throw this.reportProtocolError(new ProtocolError(`the server chose the codec ${first.codec}, which this client did not offer`));
    link.useCodec(codec);
    this.welcome = { frame: first, rest: frames.length > 1 ? frames.slice(1) : [], codec };
  };

  private readonly onOpen = (): void => {
    const pending = this.welcome;
    this.welcome = undefined;
    if (pending === undefined) return;
    const w = pending.frame;
    const previous = this.ticket;
    this.ticket = { sid: w.sid, token: w.token };
    if (this.ctx.sessionId !== w.sid) this.ctx = { side: 'client', sessionId: w.sid };
    const outbox = this.outbox;
    outbox.connected(w.win, w.max);
    if (pending.codec !== this.codec) {
      this.codec = pending.codec;
      this.writer = new FrameWriter(this.codec, this.write, MAX_BATCH, this.beforeFlush);
    }
    // A batch must fit welcome.max: in bytes, or in UTF-8 text (at most 3 bytes per UTF-16 unit).
    this.writer.maxSize = Math.min(MAX_BATCH, Math.max(1, this.codec.binary ? w.max : Math.floor(w.max / 3)));
    const outcome = reconcile(w, previous, outbox, this.inbox);
    this.cell.set('open', outcome.kind === 'new' ? 'welcome' : outcome.kind === 'resumed' ? 'resumed' : 'session lost');
    if (this.cell.value !== 'open') return; // a 'state' listener closed the client
    if (outcome.kind !== 'new') {
      const at = this.options.now();
      const plugins = this.plugins;
      if (plugins.active) {
        const replayed = outcome.kind === 'resumed' ? outcome.replayed : outcome.unknown;
        plugins.onResume({ resumed: outcome.kind === 'resumed', replayed, downtimeMs: at - this.downAt, at }, this.ctx);
        if (outcome.kind === 'lost') plugins.onSessionLost({ unknown: outcome.unknown, at }, this.ctx);
      }
      if (outcome.kind === 'resumed') this.emit('resumed', { replayed: outcome.replayed });
      else this.emit('session-lost', { unknown: outcome.unknown, ids: outcome.ids });
    }
    for (const frame of pending.rest) {
      if (this.cell.value !== 'open') return;
      this.handleFrame(frame);
    }
    if (this.cell.value !== 'open') return;
    this.needPump = false;
    outbox.pump();
  };

  private readonly onMessage = (data: unknown): void => {
    this.countBytes(this.codec.size(data), 0);
    let frames: Frame[];
    try {
      frames = this.codec.decode(data);
    } catch (error) {
      this.protocolError(toProtocolError(error));
      return;
    }
    for (let i = 0; i < frames.length; i++) {
      this.handleFrame(frames[i] as Frame);
      if (this.cell.value !== 'open') return;
    }
    if (this.needPump) {
      this.needPump = false;
      this.outbox.pump();
    }
  };

  private handleFrame(f: Frame): void {
    switch (f.t) {
      case 'msg':
        if (!this.inbox.accept(f)) {
          this.protocolError(new ProtocolError(`the server sent more than the receive window of ${this.options.maxBuffered} unacknowledged messages`));
        }
        return;
      case 'ack': {
        const at = this.plugins.active ? this.options.now() : 0;
        if ('e' in f) this.outbox.nack(f.seq, f.e, at);
        else this.outbox.ack(f.seq, f.r, at);
        this.needPump = true;
        return;
      }
      case 'acks': {
        // One clock read for the whole run (plugins' `onAck.at`), not one per message.
        const at = this.plugins.active ? this.options.now() : 0;
        for (let i = 0; i < f.r.length; i++) this.outbox.ack(f.seq + i, f.r[i] as Json, at);
        this.needPump = true;
        return;
      }
      case 'ping':
        // Over the high-water mark the server is not reading what we write (or cannot yet): a pong
        // would only grow our buffer, 40 bytes for each 20 it sent. Any frame it gets proves us alive.
        if (!this.transport.writable) return;
        this.writer.push(this.codec.pong(f.ts, Date.now()));
        return;
      case 'pong': {
        if (!this.transport.acceptPong(f.ts)) return; // answers no ping of ours
        const rttMs = Math.max(0, Date.now() - f.ts);
        this.rtt = rttMs;
        this.offset = f.at - (f.ts + rttMs / 2);
        if (this.plugins.active) this.plugins.onClock({ rttMs, offsetMs: this.offset, at: this.options.now() }, this.ctx);
        return;
      }
      case 'bye':
        // The server closes next; its close code decides whether we reconnect.
        if (f.retryMs !== undefined) this.transport.retryAfter(f.retryMs);
        return;
      default:
        this.protocolError(new ProtocolError(`unexpected ${f.t} frame from the server`));
    }
  }

  private readonly onClose = (info: CloseInfo): void => {
    this.outbox.disconnected();
    this.writer.discard();
    this.downAt = this.options.now();
    this.emit('disconnect', info);
    if (this.closing !== undefined || this.cell.value === 'closed') return;
    const reason = `closed ${info.code}${info.reason ? `: ${info.reason}` : ''}`;
    if (info.willReconnect) this.cell.set('reconnecting', reason);
    else if (this.transport.options.reconnect === false && !fatalCloseCodes.has(info.code)) this.cell.set('idle', reason);
    // Otherwise the transport stops for good and reports why through 'error' (onTransportError).
  };

  private readonly onTransportError = (error: LifelineError): void => {
    if (this.cell.value === 'closed') return;
    if (error instanceof ProtocolError) this.reportProtocolError(error);
    this.lastError = error;
    this.emit('error', error);
    this.shutdown(error.message, closeCodeOf(error), error);
  };

  private readonly onReconnecting = (info: ReconnectInfo): void => {
    if (this.plugins.active) this.plugins.onReconnect({ attempt: info.attempt, delayMs: info.delayMs, at: this.options.now() }, this.ctx);
    this.emit('reconnecting', info);
  };

  /** The server broke the protocol: close with its code (4400) and end the session. */
  private protocolError(error: ProtocolError): void {
    this.reportProtocolError(error);
    this.lastError = error;
    this.shutdown(error.message, error.closeCode, error);
  }

  private reportProtocolError(error: ProtocolError): ProtocolError {
    if (this.plugins.active) this.plugins.onProtocolError({ closeCode: error.closeCode, message: error.message, at: this.options.now() }, this.ctx);
    this.emit('protocol-error', error);
    return error;
  }

  /** Terminal: close the transport, reject everything pending, end receivers, state 'closed'. */
  private shutdown(reason: string, closeCode: number, cause?: Error): void {
    if (this.cell.value === 'closed') return;
    this.outbox.disconnected();
    this.transport.close(closeCode, reason);
    this.writer.discard();
    this.outbox.closeAll(
      (m) => new ClosedError(`the session closed before message ${m.id} was acknowledged (${reason})`, { maybeDelivered: m.transmitted, closeCode, cause }),
    );
    this.inbox.close();
    this.store?.close();
    this.cell.set('closed', reason);
  }

  private stateChanged(next: ClientState, change: ClientStateChange): void {
    if (this.plugins.active) this.plugins.onState({ from: change.from, to: next, reason: change.reason, at: this.options.now() }, this.ctx);
    if (next === 'open' || next === 'idle' || next === 'closed') {
      const waiters = this.openWaiters;
      if (waiters.length > 0) {
        this.openWaiters = [];
        if (next === 'open') for (const w of waiters) w.resolve();
        else {
          const error = this.lastError ?? new ClosedError(`the client is ${next} (${change.reason})`);
          for (const w of waiters) w.reject(error);
        }
      }
    }
    this.emit('state', next, change);
  }

  private readonly write = (message: unknown): void => {
    this.countBytes(0, this.codec.size(message));
    this.transport.send(message);
  };

  /** One cumulative `cack` per flush (per tick), whatever was delivered meanwhile. */
  private readonly beforeFlush = (): void => {
    const seq = this.inbox.takeCack();
    if (seq !== undefined) this.writer.push(this.codec.cack(seq));
  };

  private countBytes(inbound: number, outbound: number): void {
    if (this.plugins.active) this.plugins.onBytes({ in: inbound, out: outbound }, this.ctx);
  }
}

function toProtocolError(error: unknown): ProtocolError {
  return error instanceof ProtocolError ? error : new ProtocolError(String(error), CloseCode.BadFrame, { cause: error });
}

function closeCodeOf(error: LifelineError): number {
  const code = (error as { closeCode?: unknown }).closeCode;
  return typeof code === 'number' ? code : CloseCode.Normal;
}
