import type { PluginContext } from '@lifeline/protocol';
import type { Deadlines, Outgoing, PluginHost } from '@lifeline/protocol/internal';
import type { ResolvedOptions } from './options.js';
import type { Heartbeat } from './heartbeat.js';
import type { Limits } from './limits.js';
import type { Registry } from './registry.js';
import type { SessionStore } from './store.js';

/** A connection closed for bad input, as the server's `protocol-error` event reports it. */
export interface ProtocolErrorInfo {
  /** The close code sent (4400, 4401, 4403, 4406, 4408, or 1009 and friends from the WebSocket layer). */
  readonly code: number;
  readonly reason: string;
  /** The session the connection held, when it had one. */
  readonly sessionId: string | undefined;
}

/**
 * What the parts of one server share: resolved options, the plugin host, the one deadline
 * timer for all `session.send()` calls, and the ways to report trouble without throwing.
 */
export interface ServerContext {
  readonly options: ResolvedOptions;
  readonly plugins: PluginHost;
  readonly store: SessionStore;
  readonly sendDeadlines: Deadlines<Outgoing>;
  readonly heartbeat: Heartbeat;
  readonly registry: Registry;
  /** Abuse limits: admission, rate, window, slow clients. */
  readonly limits: Limits;
  /** True once `server.close()` began: no new messages are accepted, no new sessions start. */
  closing: boolean;
  /** An unexpected failure: reported through the server's `error` event, never thrown. */
  reportError(error: unknown): void;
  /** A connection is being closed for bad input. */
  reportProtocolError(info: ProtocolErrorInfo): void;
}

/** Plugin context for events that happen before a connection has a session. */
export const noSessionContext: PluginContext = Object.freeze({ side: 'server', sessionId: undefined });
