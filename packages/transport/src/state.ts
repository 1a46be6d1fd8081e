import type { LifelineError } from '@lifeline/protocol';
import { StateMachine as Machine } from '@lifeline/protocol/internal';

/**
 * The connection's state: one value for the transport and for the client session above it (the
 * client's `state` is this one; it keeps no machine of its own, issue 10).
 *
 * - `idle`: not connected and not trying — before `connect()`, after a failed `connect()`, or
 *   after a drop with `reconnect: false`.
 * - `connecting`: the first connection (`connect()`): any `prepare` step, the socket, the handshake.
 * - `open`: a connection passed its handshake; messages flow.
 * - `reconnecting`: the connection was lost and the loop is retrying (backoff, reconnect, resume).
 * - `closed`: terminal — `close()`, a fatal close code, or reconnect attempts exhausted.
 */
export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface StateChange {
  readonly from: ConnectionState;
  /** Why: `connect()`, `welcome`, `closed 1006: …`, `heartbeat timeout`, `client closed`, … */
  readonly reason: string;
  /**
   * The typed error behind the change, when a failure caused it: a connect that failed (→ idle),
   * a fatal close code or attempts exhausted (→ closed). Absent for a change someone asked for.
   */
  readonly error?: LifelineError | undefined;
}

/** Every transition there is; anything else is a bug, and `StateMachine.set` refuses it. */
const allowed: Readonly<Record<ConnectionState, readonly ConnectionState[]>> = {
  idle: ['connecting', 'closed'],
  connecting: ['open', 'idle', 'closed'],
  open: ['reconnecting', 'idle', 'closed'],
  reconnecting: ['open', 'idle', 'closed'],
  closed: [],
};

export function canTransition(from: ConnectionState, to: ConnectionState): boolean {
  return allowed[from].includes(to);
}

/**
 * Holds the state; `set()` is the one place it changes (centrifuge-js's `_setState`), and calls
 * `onChange` only for an allowed change, after the new value is in place. The table and its
 * check are the one `StateMachine` both sides use; this adds what the client's events carry.
 */
export class StateMachine {
  private readonly machine = new Machine<ConnectionState>('idle', 'created', allowed);

  constructor(private readonly onChange: (next: ConnectionState, change: StateChange) => void) {}

  get value(): ConnectionState {
    return this.machine.value;
  }

  /** Returns whether the state changed (false for no change or a transition the table refuses). */
  set(next: ConnectionState, reason: string, error?: LifelineError): boolean {
    const from = this.machine.value;
    if (from === next || !this.machine.set(next, reason)) return false;
    this.onChange(next, error === undefined ? { from, reason } : { from, reason, error });
    return true;
  }
}
