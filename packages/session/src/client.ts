import { EventEmitter } from 'eventemitter3';
import { ClosedError, CloseCode, ProtocolError, type Codec, type Json, type LifelineError } from '@lifeline/protocol';
import { PluginHost } from '@lifeline/protocol/internal';
import { Transport, type CloseInfo, type ReconnectInfo, type StateChange } from '@lifeline/transport';
import { Dispatch } from './dispatch.js';
import type { ClientEvents, CloseOptions, ConnectOptions } from './events.js';
import { SessionHandshake } from './handshake.js';
import { Inbox, REFETCH_CLOSE_CODE, type MessagesOptions, type ReceiveOptions } from './inbox.js';
import { clientDefaults, resolveClientOptions, type ClientOptions, type ResolvedClientOptions } from './options.js';
import { Outbox, type SendOptions } from './outbox.js';
import { StoreLink } from './outbox-store.js';
import { restoreOutbox } from './restore.js';
import type { ClientState } from './state.js';
import { OpenWaiters, withDeadline } from './wait.js';
import { Wire } from './wire.js';
import type { Subscription, SubscribeOptions } from './subscription.js';
import { Subscriptions } from './subscriptions.js';

/** How the client itself ended the session (`close()`, a protocol error): what pending sends are told. */
interface Ending {
  readonly reason: string;
  readonly closeCode: number;
  readonly cause: Error | undefined;
}

/**
 * A Lifeline client session over a `Transport`: every `send()` is numbered, acknowledged with
 * the server handler's result, retransmitted across reconnects and settled by its deadline;
 * server messages are deduplicated and delivered in order. See DESIGN.md guarantees 1–6, 8.
 *
 * The layers, top down: `send()` → `Outbox` (the shared `SendQueue`: waiting, queued, in flight,
 * deadlines) → `Wire` (the session's codec, one WebSocket message per turn) → `Transport` (the
 * socket, heartbeat, reconnect) → socket. Back: transport message → `Wire.decode` → `Dispatch`
 * → `Outbox.ack` → the `send()` promise. `SessionHandshake` runs hello/welcome on each
 * connection; the state is the transport's one state machine, which this class follows.
 */
export class LifelineClient extends EventEmitter<ClientEvents> {
  private readonly options: ResolvedClientOptions;
  private readonly plugins: PluginHost;
  private readonly store: StoreLink | undefined;
  private readonly transport: Transport;
  private readonly inbox: Inbox;
  private readonly wire: Wire;
  private readonly outbox: Outbox;
  private readonly dispatch: Dispatch;
  private readonly channels: Subscriptions;
  private readonly handshake: SessionHandshake;
  private readonly waiters = new OpenWaiters();
  /** The first `connect()` loading the durable outbox, while it does. */
  private loading: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private ending: Ending | undefined;
  /** The last protocol error reported: a handshake's is reported where it is found, not again when it stops the transport. */
  private reported: ProtocolError | undefined;

  constructor(options: ClientOptions) {
    super();
    const o = resolveClientOptions(options);
    this.options = o;
    this.plugins = new PluginHost(o.plugins, (error, plugin, hook) => {
      this.emit('error', new Error(`plugin ${plugin} threw in ${hook}`, { cause: error }));
    });
    const store = o.outbox === undefined ? undefined : new StoreLink(o.outbox, (error) => this.emitSafely('error', error));
    this.store = store;
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
      prepare: store === undefined ? undefined : () => this.load(store),
      handshake: (link, signal) => this.handshake.run(link, signal),
      established: () => this.handshake.establish(),
    });
    const ctx = () => this.handshake.ctx;
    const meter = (inbound: number, outbound: number): void => {
      if (this.plugins.active) this.plugins.onBytes({ in: inbound, out: outbound }, ctx());
    };
    this.inbox = new Inbox(
      {
        hasListeners: () => this.listenerCount('message') > 0,
        emit: (data, meta) => this.emitSafely('message', data, meta),
        cackDue: () => this.wire.schedule(),
        refetch: () => this.transport.drop(REFETCH_CLOSE_CODE, 'resuming to fetch the messages a full receive buffer skipped'),
        plugins: this.plugins,
        ctx,
        now: o.now,
      },
      o.maxBuffered,
      o.maxBufferedBytes,
    );
    this.wire = new Wire(this.transport, this.inbox, meter);
    this.channels = new Subscriptions(
      {
        isOpen: () => this.transport.state === 'open',
        listenerError: (error) => this.emitSafely('error', error instanceof Error ? error : new Error(String(error))),
        random: options.random ?? Math.random,
      },
      this.wire,
    );
    this.wire.pullPacks(this.channels);
    this.outbox = new Outbox({
      ackTimeoutMs: o.ackTimeoutMs,
      maxInFlight: o.maxInFlight,
      maxQueuedMessages: o.maxQueuedMessages,
      maxQueuedBytes: o.maxQueuedBytes,
      overflow: o.overflow,
      now: o.now,
      wire: this.wire,
      codec: o.codecs[0] as Codec,
      plugins: this.plugins,
      ctx,
      store,
    });
    this.wire.pullGots(this.outbox);
    this.dispatch = new Dispatch(
      {
        plugins: this.plugins,
        ctx,
        now: o.now,
        isOpen: () => this.transport.state === 'open',
        protocolError: (error) => this.protocolError(error),
      },
      this.transport,
      this.wire,
      this.inbox,
      this.outbox,
      this.channels,
    );
    this.handshake = new SessionHandshake(
      o,
      {
        plugins: this.plugins,
        reportProtocolError: (error) => this.reportProtocolError(error),
        resumed: (info) => this.emit('resumed', info),
        sessionLost: (info) => this.emit('session-lost', info),
      },
      this.transport,
      this.wire,
      this.inbox,
      this.outbox,
      meter,
    );
    const t = this.transport;
    t.on('state', this.follow);
    t.on('open', this.onOpen);
    t.on('message', this.dispatch.message);
    t.on('close', this.onClose);
    t.on('reconnecting', this.onReconnecting);
    t.on('drain', () => this.outbox.pump());
  }

  get state(): ClientState {
    return this.transport.state;
  }

  /** The server's session id, once a `welcome` arrived. */
  get sessionId(): string | undefined {
    return this.handshake.ticket?.sid;
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
    return this.dispatch.rttMs;
  }

  /** Estimated server clock minus local clock, ms (NaN before the first pong). */
  get clockOffsetMs(): number {
    return this.dispatch.clockOffsetMs;
  }

  /**
   * Connect and resolve on the first `welcome`. From 'connecting' or 'reconnecting' it waits for
   * the connection in progress. Rejects with `TimeoutError`, `AbortError`, `UnauthorizedError`,
   * `ProtocolError` or `ConnectionError`; after a failed first connect the client is 'idle' again
   * and queued sends keep waiting within their own deadlines.
   */
  connect(options: ConnectOptions = {}): Promise<void> {
    const state = this.transport.state;
    if (state === 'closed' || this.closing !== undefined) return Promise.reject(new ClosedError('the client is closed'));
    if (state === 'open') return Promise.resolve();
    const { opened, waiter } = this.waiters.add();
    // Its outcome reaches the waiters through the state it leads to ('open', or 'idle' with the error).
    if (state === 'idle') this.transport.connect().catch(() => {});
    return withDeadline(opened, {
      timeoutMs: options.timeoutMs ?? this.options.connectTimeoutMs * clientDefaults.connectDeadlineFactor,
      signal: options.signal,
      what: 'connect()',
      cancel: () => {
        // The last caller gave up: stop connecting (a reconnect goes on: the session needs it).
        if (this.waiters.remove(waiter) === 0 && this.transport.state === 'connecting') this.transport.cancel('connect() timed out or was aborted');
      },
    });
  }

  /**
   * Send `data` (any JSON-serialisable value); resolves with the server handler's result, rejects
   * with `RemoteError` (the handler threw), `ResultEvictedError` (processed earlier, result no
   * longer cached: outcome unknown), `AckTimeoutError` (deadline; see `maybeDelivered`),
   * `AbortError`, `QueueFullError`, `PayloadTooLargeError`, `ClosedError` or `TypeError` (data
   * the codec cannot encode, or nested deeper than 63 levels).
   * Before `connect()` the message queues and goes out once connected.
   */
  send<R = Json>(data: unknown, options?: SendOptions): Promise<R> {
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
   * Subscribe to `channel` (DESIGN.md "Channels", guarantee 9): every publication after now (or
   * after `options.since`) once, in offset order, across drops, resumes and server restarts, or
   * one `'gap'` naming what the history lost. Subscribes again by itself after every reconnect.
   * Throws `TypeError` for a bad channel name or option, or a channel already subscribed;
   * `ClosedError` once the client is closed. Before `connect()` it subscribes once connected.
   */
  subscribe(channel: string, options?: SubscribeOptions): Subscription {
    return this.channels.subscribe(channel, options);
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
    if (this.transport.state === 'closed') return Promise.resolve();
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
    if (this.transport.state === 'open') {
      this.wire.push(this.wire.codec.bye(CloseCode.Normal, 'client closed'));
      this.wire.flush();
    }
    this.shutdown('client closed', CloseCode.Normal);
    if (failure !== undefined) throw failure;
  }

  /** The transport's `prepare` step of a first `connect()`: what an earlier run left goes first. */
  private load(store: StoreLink): Promise<void> {
    if (store.loaded) return Promise.resolve();
    this.loading ??= restoreOutbox(store, this.outbox, {
      stopped: () => this.transport.state === 'closed' || this.closing !== undefined,
      error: (error) => this.emitSafely('error', error),
      restored: (info) => this.emitSafely('restored', info),
      settled: (outcome) => this.emitSafely('restored-settled', outcome),
    }).finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  /** Emit without letting a throwing listener break the caller; the throw goes to 'error'. */
  private emitSafely<E extends EventEmitter.EventNames<ClientEvents>>(event: E, ...args: EventEmitter.EventArgs<ClientEvents, E>): void {
    try {
      this.emit(event, ...args);
    } catch (error) {
      if (event !== 'error') this.emitSafely('error', error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** The transport adopted a connection and the state is 'open': resume events, welcome's batch, then the queue. */
  private readonly onOpen = (): void => {
    this.channels.connected();
    this.dispatch.frames(this.handshake.announce());
    if (this.transport.state === 'open') this.outbox.pump();
  };

  /** A connection went down; the transport has decided what comes next and says so through 'state'. */
  private readonly onClose = (info: CloseInfo): void => {
    this.outbox.disconnected();
    this.wire.discard();
    this.channels.disconnected();
    this.handshake.down(this.options.now());
    this.emit('disconnect', info);
  };

  private readonly onReconnecting = (info: ReconnectInfo): void => {
    if (this.plugins.active) this.plugins.onReconnect({ attempt: info.attempt, delayMs: info.delayMs, at: this.options.now() }, this.handshake.ctx);
    this.emit('reconnecting', info);
  };

  /**
   * Every transition of the one state machine (the transport's), as it happens: a terminal one
   * settles everything pending first; then plugins, `connect()` callers and 'state' listeners.
   */
  private readonly follow = (next: ClientState, change: StateChange): void => {
    const { from, reason } = change;
    const cause = next === 'closed' ? this.finish(change) : change.error;
    if (this.plugins.active) this.plugins.onState({ from, to: next, reason, at: this.options.now() }, this.handshake.ctx);
    if (next === 'open') this.waiters.resolve();
    else if (next === 'idle' || next === 'closed') this.waiters.reject(cause ?? new ClosedError(`the client is ${next} (${reason})`));
    this.emitSafely('state', next, { from, reason });
  };

  /** The server broke the protocol: close with its code (4400) and end the session. */
  private protocolError(error: ProtocolError): void {
    this.reportProtocolError(error);
    this.shutdown(error.message, error.closeCode, error);
  }

  private reportProtocolError(error: ProtocolError): ProtocolError {
    if (error === this.reported) return error;
    this.reported = error;
    if (this.plugins.active) this.plugins.onProtocolError({ closeCode: error.closeCode, message: error.message, at: this.options.now() }, this.handshake.ctx);
    this.emit('protocol-error', error);
    return error;
  }

  /** The client ends the session: the transport closes the socket and turns 'closed', which `finish` follows. */
  private shutdown(reason: string, closeCode: number, cause?: Error): void {
    if (this.transport.state === 'closed') return;
    this.ending = { reason, closeCode, cause };
    this.transport.close(closeCode, reason);
  }

  /**
   * The state turned 'closed': reject everything pending, end receivers, close the store.
   * Returns the error `connect()` callers get. When the transport stopped on its own (a fatal
   * close code, attempts exhausted), its error is reported first, as the reason of it all.
   */
  private finish(change: StateChange): Error | undefined {
    let ending = this.ending;
    if (ending === undefined) {
      const error = change.error;
      ending = { reason: change.reason, closeCode: closeCodeOf(error), cause: error };
      if (error !== undefined) {
        if (error instanceof ProtocolError) this.reportProtocolError(error);
        this.emitSafely('error', error);
      }
    }
    const { reason, closeCode, cause } = ending;
    this.outbox.disconnected();
    this.wire.discard();
    this.outbox.closeAll(
      (m) => new ClosedError(`the session closed before message ${m.id} was acknowledged (${reason})`, { maybeDelivered: m.transmitted, closeCode, cause }),
    );
    this.inbox.close();
    this.channels.close();
    this.store?.close();
    return cause;
  }
}

function closeCodeOf(error: LifelineError | undefined): number {
  const code = (error as { closeCode?: unknown } | undefined)?.closeCode;
  return typeof code === 'number' ? code : CloseCode.Normal;
}
