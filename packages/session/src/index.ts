/**
 * @lifeline/session: the client (`LifelineClient`) over `@lifeline/transport`, and its public
 * types; `@lifeline/sdk` re-exports all of it. Nothing here is internal (docs/api.md).
 *
 * @module @lifeline/session
 */
export { LifelineClient } from './client.js';
export type { ClientEvents, ConnectOptions, CloseOptions, SessionLostInfo, ResumedInfo, DisconnectInfo, RestoredInfo, RestoredOutcome } from './events.js';
export type { OutboxStore, StoredMessage } from './outbox-store.js';
export { webStorageOutbox } from './web-storage-outbox.js';
export type { StorageLike, WebStorageOutboxOptions } from './web-storage-outbox.js';
export { indexedDbOutbox, indexedDbOutboxDefaults } from './indexed-db-outbox.js';
export type { IndexedDbOutboxOptions, LockManagerLike } from './indexed-db-outbox.js';
export { clientDefaults } from './options.js';
export type { ClientOptions, AuthProvider, QueueLimits, OverflowPolicy } from './options.js';
export type { SendOptions } from './outbox.js';
export type { MessageMeta, ReceiveOptions, MessagesOptions } from './inbox.js';
export type { ClientState, ClientStateChange } from './state.js';
export { Subscription, subscriptionDefaults } from './subscription.js';
export type { SubscribeOptions, ReadyOptions, PresenceOptions, Publication, PublicationMeta, GapInfo, SubscriptionEvents } from './subscription.js';
