/**
 * `@lifeline/transport/internal`: what `@lifeline/session` takes from the transport besides its
 * public API (option checks, the typed error of a close). Not for applications; no
 * compatibility promise: any name here may change or go in any release (docs/api.md).
 */
export { resolveTransportOptions, resolveReconnect, checkNumber } from './options.js';
export type { ResolvedTransportOptions } from './options.js';
export { Heartbeat } from './heartbeat.js';
export type { HeartbeatOptions } from './heartbeat.js';
export { ReadyState, resolveWebSocket } from './socket.js';
export { closeError } from './link.js';
export { isFatal } from './connector.js';
export { canTransition } from './state.js';
export type { ConnectionState } from './state.js';
