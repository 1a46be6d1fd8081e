/**
 * @lifeline/transport: one WebSocket at a time, kept alive (connect timeout, heartbeats,
 * reconnect with full-jitter backoff, backpressure). What `@lifeline/session` needs beyond this
 * is at `@lifeline/transport/internal`, with no compatibility promise (docs/api.md).
 *
 * @module @lifeline/transport
 */
export { Transport } from './transport.js';
export type { TransportState, TransportEvents, CloseInfo, ReconnectInfo } from './transport.js';
export type { StateChange } from './state.js';
export { transportDefaults, reconnectDefaults } from './options.js';
export type { TransportOptions, ReconnectOptions, UrlProvider, Handshake } from './options.js';
export { fullJitterBackoff } from './backoff.js';
export type { BackoffFunction, BackoffOptions } from './backoff.js';
export type { WebSocketLike, WebSocketConstructor, MessageEventLike, CloseEventLike } from './socket.js';
export type { HandshakeLink } from './link.js';
