/** One change of a state machine: where it came from, and why it moved. */
export interface Transition<S extends string> {
  readonly from: S;
  readonly to: S;
  readonly reason: string;
}

/**
 * The state of one connection or one session (either side), as a value changed in one place (centrifuge-js's
 * `_setState`): `set` checks the move against a table of allowed transitions, keeps the reason,
 * and tells `changed`. A move the table does not allow (a second close, a close after the end)
 * is refused and changes nothing, so callers need no guard of their own.
 */
export class StateMachine<S extends string> {
  private current: S;
  private why: string;

  constructor(
    initial: S,
    initialReason: string,
    private readonly allowed: Readonly<Record<S, readonly S[]>>,
    private readonly changed?: (change: Transition<S>) => void,
  ) {
    this.current = initial;
    this.why = initialReason;
  }

  get value(): S {
    return this.current;
  }

  /** Why the machine is in its state (the reason of the last move). */
  get reason(): string {
    return this.why;
  }

  /** Whether `next` may follow the current state. */
  can(next: S): boolean {
    return this.allowed[this.current].includes(next);
  }

  /** Move to `next` for `reason`; false (and nothing changes) when the table does not allow it. */
  set(next: S, reason: string): boolean {
    const from = this.current;
    if (!this.allowed[from].includes(next)) return false;
    this.current = next;
    this.why = reason;
    this.changed?.({ from, to: next, reason });
    return true;
  }
}
