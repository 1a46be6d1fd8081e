import type { ConnectionState } from '@lifeline/transport/internal';

/**
 * The client's connection state. It is the transport's one state machine
 * (`@lifeline/transport`, `state.ts`: the table of transitions, one `setState`), which the
 * client follows; the client keeps no second copy (issue 10):
 *
 * - `idle`: not connected and not trying — before `connect()`, after a failed `connect()`, or
 *   after a drop with `reconnect: false`. Sends queue and keep their deadlines.
 * - `connecting`: the first connection (`connect()`): loading the durable outbox, the socket,
 *   `hello`/`welcome`.
 * - `open`: a `welcome` was received and applied; messages flow.
 * - `reconnecting`: the connection was lost; backoff, reconnect, resume.
 * - `closed`: terminal — `close()`, a fatal close code, or reconnect attempts exhausted.
 */
export type ClientState = ConnectionState;

/** What the `state` event says besides the new state. */
export interface ClientStateChange {
  readonly from: ClientState;
  /**
   * Why, on every transition: `connect()`, `welcome`, `resumed`, `session lost`,
   * `closed 1006: …`, `heartbeat timeout`, `connect failed: …`, `client closed`, …
   */
  readonly reason: string;
}
