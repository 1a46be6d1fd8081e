/**
 * The client's connection state, one value, changed in one place (centrifuge-js's `_setState`):
 *
 * - `idle`: not connected and not trying — before `connect()`, after a failed `connect()`, or
 *   after a drop with `reconnect: false`. Sends queue and keep their deadlines.
 * - `connecting`: the first connection (`connect()`), socket plus hello/welcome.
 * - `open`: a `welcome` was received; messages flow.
 * - `reconnecting`: the connection was lost; backoff, reconnect, resume.
 * - `closed`: terminal — `close()`, a fatal close code, or reconnect attempts exhausted.
 */
export type ClientState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface ClientStateChange {
  readonly from: ClientState;
  /** Why: `connect()`, `welcome`, `closed 1006`, `heartbeat timeout`, … */
  readonly reason: string;
}

/** Transitions the client makes; anything else is a bug, and `StateCell` refuses it. */
const allowed: Readonly<Record<ClientState, readonly ClientState[]>> = {
  idle: ['connecting', 'closed'],
  connecting: ['open', 'idle', 'closed'],
  open: ['reconnecting', 'idle', 'closed'],
  reconnecting: ['open', 'idle', 'closed'],
  closed: [],
};

export function canTransition(from: ClientState, to: ClientState): boolean {
  return allowed[from].includes(to);
}

/** Holds the state; `set()` calls `onChange` only on an allowed change. */
export class StateCell {
  private current: ClientState = 'idle';

  constructor(private readonly onChange: (next: ClientState, change: ClientStateChange) => void) {}

  get value(): ClientState {
    return this.current;
  }

  /** Returns whether the state changed. */
  set(next: ClientState, reason: string): boolean {
    const from = this.current;
    if (from === next || !canTransition(from, next)) return false;
    this.current = next;
    this.onChange(next, { from, reason });
    return true;
  }
}
