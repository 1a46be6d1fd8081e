/** What one `pong` that answers our last `ping` tells: the round trip and the peer's clock offset. */
export interface ClockSample {
  readonly rttMs: number;
  /** The peer's wall clock minus ours, NTP-style (docs/protocol.md, `ping` / `pong`). */
  readonly offsetMs: number;
}

/**
 * The `ping`/`pong` exchange of one connection, the same on both sides: the `ts` of the last
 * ping sent, and the one pong that answers it. A pong that answers nothing we sent (forged or
 * replayed) yields nothing, so it can set neither the round trip nor the clock offset.
 */
export class ClockProbe {
  /**
   * Unset (not NaN) between pings: a field that holds only numbers gets a heap number box of its
   * own in every instance, 16 bytes of every idle connection (issue 14).
   */
  private pingTs: number | undefined = undefined;

  /** A ping with `ts` (our wall clock) was written. */
  sent(ts: number): void {
    this.pingTs = ts;
  }

  /** The sample of a pong with these fields, read at our wall clock `now`; once per ping. */
  answer(ts: number, at: number, now: number): ClockSample | undefined {
    if (ts !== this.pingTs) return undefined;
    this.pingTs = undefined;
    const rttMs = Math.max(0, now - ts);
    return { rttMs, offsetMs: at - (ts + rttMs / 2) };
  }
}
