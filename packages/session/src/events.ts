import type { Json, LifelineError, ProtocolError } from '@lifeline/protocol';
import type { CloseInfo, ReconnectInfo } from '@lifeline/transport';
import type { MessageMeta } from './inbox.js';
import type { ClientState, ClientStateChange } from './state.js';

/** Options of `connect()`, `close()`, and the payloads of the client's events. */

export interface ConnectOptions {
  /** @default connectTimeoutMs × 3 (30 s): room for a few attempts and their backoff */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface CloseOptions {
  /** Wait (bounded by `timeoutMs`) until every pending `send()` has settled before closing. @default false */
  drain?: boolean;
  /** Bound on the drain. @default 5_000 */
  timeoutMs?: number;
  /** Aborting ends the drain early (the client still closes; `close()` rejects with `AbortError`). */
  signal?: AbortSignal;
}

export interface SessionLostInfo {
  /** Messages sent without an ack: their outcome is unknown; they are sent again under the same ids. */
  readonly unknown: number;
  readonly ids: readonly string[];
}

export interface ResumedInfo {
  /** Messages retransmitted because the server had not acknowledged them. */
  readonly replayed: number;
}

/** Messages an earlier run left in the durable outbox, queued again by the first `connect()`. */
export interface RestoredInfo {
  readonly ids: readonly string[];
}

/** The outcome of one restored message (it has no `send()` caller): its result, or why it failed. */
export type RestoredOutcome =
  | { readonly id: string; readonly result: Json; readonly error?: undefined }
  | { readonly id: string; readonly error: LifelineError; readonly result?: undefined };

/** A connection went down: its close code (4000 = heartbeat timeout, local) and whether a reconnect follows. */
export type DisconnectInfo = CloseInfo;

export interface ClientEvents {
  state: (state: ClientState, change: ClientStateChange) => void;
  message: (data: Json, meta: MessageMeta) => void;
  'session-lost': (info: SessionLostInfo) => void;
  /** Every time a connection goes down, whatever the cause (then 'state' says what comes next). */
  disconnect: (info: DisconnectInfo) => void;
  reconnecting: (info: ReconnectInfo) => void;
  resumed: (info: ResumedInfo) => void;
  /** Terminal failures (the client is closing because of it), throwing listeners, failing plugins. */
  error: (error: Error) => void;
  'protocol-error': (error: ProtocolError) => void;
  /** The first `connect()` queued what an earlier run left in the durable outbox (sent first). */
  restored: (info: RestoredInfo) => void;
  /** A restored message was acked (`result`) or failed (`error`; `ERR_CLOSED` leaves it stored). */
  'restored-settled': (outcome: RestoredOutcome) => void;
}
