/**
 * Peer clock − local clock, estimated NTP-style from heartbeat round trips.
 *
 * Each `ClockEvent` carries one sample: the round trip `rttMs` and the offset the session derived
 * from it (`offset = peerAt − (pingSentAt + rtt / 2)`, docs/protocol.md). That offset assumes the
 * two legs took equally long; the true offset lies within ± rtt/2 of it whatever the asymmetry.
 * So the sample with the smallest round trip has the tightest bound, and we keep that one among
 * the last `size` samples (the "minimum filter" of NTP's clock filter, RFC 5905 §10) — recent
 * enough to follow drift, numerous enough to skip round trips inflated by queueing.
 */

/** The current estimate, as reported in snapshots. */
export interface ClockOffsetEstimate {
  /** Peer clock − local clock, in ms. */
  readonly offsetMs: number;
  /** Round trip of the sample the estimate comes from, in ms. */
  readonly rttMs: number;
  /** Bound on the estimate's error: the true offset is within offsetMs ± errorMs (= rttMs / 2). */
  readonly errorMs: number;
  /** Samples seen since creation or reset. */
  readonly samples: number;
}

export class ClockOffset {
  private readonly rtts: Float64Array;
  private readonly offsets: Float64Array;
  private next = 0;
  private filled = 0;
  private seen = 0;
  /** The current best offset (0 until the first sample: clocks assumed in step). */
  offsetMs = 0;
  private bestRtt = Number.POSITIVE_INFINITY;

  constructor(readonly size: number) {
    this.rtts = new Float64Array(size);
    this.offsets = new Float64Array(size);
  }

  get hasSamples(): boolean {
    return this.filled > 0;
  }

  update(rttMs: number, offsetMs: number): void {
    if (!(rttMs >= 0) || !Number.isFinite(rttMs) || !Number.isFinite(offsetMs)) return;
    this.rtts[this.next] = rttMs;
    this.offsets[this.next] = offsetMs;
    this.next = (this.next + 1) % this.size;
    if (this.filled < this.size) this.filled++;
    this.seen++;
    // Rescan rather than keep the old best: the sample it came from may just have been overwritten.
    let best = 0;
    for (let i = 1; i < this.filled; i++) if ((this.rtts[i] as number) < (this.rtts[best] as number)) best = i;
    this.bestRtt = this.rtts[best] as number;
    this.offsetMs = this.offsets[best] as number;
  }

  estimate(): ClockOffsetEstimate | null {
    if (this.filled === 0) return null;
    return { offsetMs: this.offsetMs, rttMs: this.bestRtt, errorMs: this.bestRtt / 2, samples: this.seen };
  }

  /** Takes over `other`'s samples and estimate (the same `size`). */
  copyFrom(other: ClockOffset): void {
    this.rtts.set(other.rtts);
    this.offsets.set(other.offsets);
    this.next = other.next;
    this.filled = other.filled;
    this.seen = other.seen;
    this.offsetMs = other.offsetMs;
    this.bestRtt = other.bestRtt;
  }

  reset(): void {
    this.next = 0;
    this.filled = 0;
    this.seen = 0;
    this.offsetMs = 0;
    this.bestRtt = Number.POSITIVE_INFINITY;
  }
}
