/**
 * @lifeline/sdk — what applications install: `createClient()` composing the transport (one
 * WebSocket, heartbeats, reconnect with full-jitter backoff) and the session (acks, deadlines,
 * replay on resume, ordered delivery), plus every public type and error class. Nothing else
 * is exported: the list, with a line on each name, is docs/api.md.
 *
 * @module @lifeline/sdk
 */
import { LifelineClient, type ClientOptions } from '@lifeline/session';

/** A Lifeline client (the session over its transport). */
export type Client = LifelineClient;

/**
 * Create a client. Nothing connects until `connect()`; `send()` before that queues.
 *
 * ```ts
 * const client = createClient({ url: 'ws://127.0.0.1:8080' });
 * await client.connect({ timeoutMs: 5_000 });
 * const result = await client.send({ op: 'buy', qty: 1 }, { timeoutMs: 10_000 });
 * ```
 */
export function createClient(options: ClientOptions): LifelineClient {
  return new LifelineClient(options);
}

export { LifelineClient, clientDefaults, webStorageOutbox, indexedDbOutbox, indexedDbOutboxDefaults, Subscription, subscriptionDefaults } from '@lifeline/session';
export type {
  ClientOptions,
  ClientEvents,
  ClientState,
  ClientStateChange,
  ConnectOptions,
  CloseOptions,
  SendOptions,
  ReceiveOptions,
  MessagesOptions,
  MessageMeta,
  SessionLostInfo,
  ResumedInfo,
  RestoredInfo,
  RestoredOutcome,
  OutboxStore,
  StoredMessage,
  StorageLike,
  WebStorageOutboxOptions,
  IndexedDbOutboxOptions,
  LockManagerLike,
  DisconnectInfo,
  AuthProvider,
  QueueLimits,
  OverflowPolicy,
  SubscribeOptions,
  ReadyOptions,
  PresenceOptions,
  Publication,
  PublicationMeta,
  GapInfo,
  SubscriptionEvents,
} from '@lifeline/session';

export { fullJitterBackoff, reconnectDefaults, transportDefaults } from '@lifeline/transport';
export type {
  ReconnectOptions,
  ReconnectInfo,
  BackoffFunction,
  BackoffOptions,
  UrlProvider,
  WebSocketLike,
  WebSocketConstructor,
} from '@lifeline/transport';

export {
  PROTOCOL_VERSION,
  CloseCode,
  fatalCloseCodes,
  isRetryableClose,
  LifelineError,
  AckTimeoutError,
  TimeoutError,
  AbortError,
  ClosedError,
  QueueFullError,
  RemoteError,
  ResultEvictedError,
  ProtocolError,
  UnauthorizedError,
  OutboxStoreError,
  PayloadTooLargeError,
  ConnectionError,
  jsonCodec,
  msgpackCodec,
} from '@lifeline/protocol';
export type {
  Json,
  Codec,
  ErrorCode,
  LifelinePlugin,
  PluginContext,
  PluginHook,
  Side,
  SendEvent,
  TransmitEvent,
  AckEvent,
  FailEvent,
  ReceiveEvent,
  DeliverEvent,
  StateEvent,
  ReconnectEvent,
  ResumeEvent,
  SessionLostEvent,
  DropEvent,
  ProtocolErrorEvent,
  ClockEvent,
  BytesEvent,
} from '@lifeline/protocol';
