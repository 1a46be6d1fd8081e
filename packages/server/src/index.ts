/**
 * The public API of `@lifeline/server` (docs/api.md lists every name).
 * @module @lifeline/server
 */
export { createServer } from './server.js';
export type { LifelineServer, ServerEvents, CloseOptions, PluginErrorInfo } from './server.js';
export { serverDefaults, rateLimitDefaults } from './options.js';
export { defaultIdentityKey } from './identity.js';
export type { ServerOptions, HandlerContext, AuthenticateOptions, QueueLimits, OverflowPolicy, RateLimit } from './options.js';
export type { LimitInfo, LimitKind } from './limits.js';
export type { Session, SessionEvents, SessionState, SessionStateChange, SessionCloseReason, SessionCloseEvent, SessionDetachEvent } from './session.js';
export type { SendOptions } from './outbound.js';
export type { ProtocolErrorInfo } from './connection-hooks.js';
export { MemorySessionStore } from './store.js';
export { channelDefaults } from './channels/options.js';
export type { ChannelOptions } from './channels/options.js';
export type { ChannelPublishOptions, ChannelPublishResult, ChannelHistoryOptions, ChannelHistory, ChannelPublication } from './channels/channels.js';
export { memoryEngine, memoryEngineDefaults } from './engine/memory-engine.js';
export type { MemoryEngine, MemoryEngineOptions } from './engine/memory-engine.js';
export { ChannelLimitError } from './engine/engine.js';
export { checkSessionLimits, MAX_BATCH } from './engine/engine-sessions.js';
export type {
  SessionEngine,
  PushEngine,
  NodeEngine,
  SessionStateEngine,
  SessionLimits,
  StoredSession,
  TokenRotation,
  RotateResult,
  StoredOutcome,
  StoredPush,
  ClaimResult,
  CompleteClaimResult,
  CompleteClaimManyResult,
  DoneMessage,
  NextMessage,
} from './engine/engine-sessions.js';
export type {
  Engine,
  PublishOptions,
  PublishResult,
  HistoryOptions,
  HistoryPage,
  Publication,
  ChannelPosition,
  PresenceMember,
  ChannelEvent,
  ChannelListener,
  Unlisten,
  ChannelLimit,
} from './engine/engine.js';
export type { SessionStore, SessionRecord } from './store.js';
// What session.send() rejects with and what the options take, so a server needs no direct
// import of @lifeline/protocol. The list, with a line on each name: docs/api.md.
export {
  CloseCode,
  LifelineError,
  AckTimeoutError,
  AbortError,
  ClosedError,
  QueueFullError,
  PayloadTooLargeError,
  jsonCodec,
  msgpackCodec,
} from '@lifeline/protocol';
export type { Json, LifelinePlugin, Codec } from '@lifeline/protocol';
