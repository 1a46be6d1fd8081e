import type { JsHistogram } from 'hdr-histogram-js';
import { createHistogram, Extent, recordValue, type SignificantDigits } from './histogram.js';

/**
 * A ring of interval histograms: a sliding window without a timer.
 *
 * Time is cut into slots of `windowMs / size`, numbered from the plugin's start; the caller passes
 * the current slot number with each record and each read, and the ring advances lazily, clearing
 * the slots that fell out of the window. A read therefore covers the current slot plus the
 * `size − 1` before it: between (size − 1) and size slots' worth — "roughly the last windowMs".
 * With `size` 1 and slot number always 0 this is a plain histogram since start.
 *
 * When `cumulative` is set, the slots that leave the window are folded into a `retired` histogram
 * (one `add()` per rotation, not per record), so a since-start view — what Prometheus and other
 * counter-based exports need — costs nothing on the recording path.
 */
export class WindowedHistogram {
  private readonly slots: (JsHistogram | undefined)[];
  /** Exact sums of the values in each slot, in µs (HDR's own mean uses bucket midpoints). */
  private readonly sums: Float64Array;
  private current = 0;
  private epoch = 0;
  private retired: JsHistogram | undefined;
  private retiredSum = 0;

  constructor(
    private readonly digits: SignificantDigits,
    private readonly size: number,
    private readonly cumulative: boolean,
  ) {
    this.slots = new Array<JsHistogram | undefined>(size).fill(undefined);
    this.sums = new Float64Array(size);
  }

  /** Records `us` (integer µs, ≥ 0) in the slot numbered `slot`. */
  record(us: number, slot: number): void {
    if (slot !== this.epoch) this.advance(slot);
    recordValue(this.currentHistogram(), us);
    this.sums[this.current] = (this.sums[this.current] ?? 0) + us;
  }

  /** Adds the window's values to `target`, and their exact sum, min and max to `extent`. */
  addWindowTo(target: JsHistogram, extent: Extent, slot: number): void {
    if (slot !== this.epoch) this.advance(slot);
    for (let i = 0; i < this.size; i++) {
      const h = this.slots[i];
      if (h !== undefined && h.totalCount > 0) {
        target.add(h);
        extent.include(h, this.sums[i] as number);
      }
    }
  }

  /**
   * Adds every value since start or reset to `target` (needs `cumulative` when windowed), and
   * their extent to `extent` (the retired part's min/max are within the resolution: it was
   * merged with `add()`).
   */
  addCumulativeTo(target: JsHistogram, extent: Extent, slot: number): void {
    this.addWindowTo(target, extent, slot);
    if (this.retired === undefined || this.retired.totalCount === 0) return;
    target.add(this.retired);
    extent.include(this.retired, this.retiredSum);
  }

  /** Takes in every value `other` holds since start (`otherSlot`: its current slot number). */
  absorb(other: WindowedHistogram, otherSlot: number): void {
    const extent = new Extent();
    other.addCumulativeTo(this.currentHistogram(), extent, otherSlot);
    this.sums[this.current] = (this.sums[this.current] ?? 0) + extent.sumUs;
  }

  /** The current slot's histogram, made on first use (most slots of an idle scope never are). */
  private currentHistogram(): JsHistogram {
    return (this.slots[this.current] ??= createHistogram(this.digits));
  }

  reset(): void {
    for (let i = 0; i < this.size; i++) this.slots[i]?.reset();
    this.sums.fill(0);
    this.retired?.reset();
    this.retiredSum = 0;
    this.current = 0;
    this.epoch = 0;
  }

  private advance(slot: number): void {
    // A clock that stepped back keeps recording into the current slot rather than reopening old ones.
    if (slot < this.epoch) return;
    const steps = Math.min(slot - this.epoch, this.size);
    for (let i = 0; i < steps; i++) {
      this.current = (this.current + 1) % this.size;
      this.retire(this.current);
    }
    this.epoch = slot;
  }

  private retire(i: number): void {
    const h = this.slots[i];
    if (h === undefined || h.totalCount === 0) return;
    if (this.cumulative) {
      if (this.retired === undefined) this.retired = createHistogram(this.digits);
      this.retired.add(h);
      this.retiredSum += this.sums[i] as number;
    }
    h.reset();
    this.sums[i] = 0;
  }
}
