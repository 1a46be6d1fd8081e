import { build, JsHistogram } from 'hdr-histogram-js';

/**
 * HDR histograms of integer microseconds, and the two ways we read them: a percentile summary
 * in milliseconds (the JSON snapshot) and cumulative fixed-bucket counts (Prometheus).
 */

/** A latency distribution in milliseconds (fractional, from microsecond records). */
export interface LatencySummary {
  readonly count: number;
  readonly min: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

/** What an empty histogram reports: count 0 and every other field 0. */
export const emptySummary: LatencySummary = Object.freeze({
  count: 0,
  min: 0,
  p50: 0,
  p90: 0,
  p99: 0,
  p999: 0,
  max: 0,
  mean: 0,
});

export type SignificantDigits = 1 | 2 | 3 | 4 | 5;

/**
 * A pure-JS HDR histogram (no WebAssembly: nothing to initialise, nothing to `destroy()`),
 * resizing itself as larger values arrive so no highest value has to be guessed.
 */
export function createHistogram(digits: SignificantDigits): JsHistogram {
  const h = build({
    useWebAssembly: false,
    bitBucketSize: 32,
    autoResize: true,
    lowestDiscernibleValue: 1,
    numberOfSignificantValueDigits: digits,
  });
  // The pure-JS build always returns a JsHistogram; we need its iterator and equivalence helpers.
  if (!(h instanceof JsHistogram)) throw new TypeError('hdr-histogram-js did not return a JS histogram');
  return h;
}

/**
 * `h.recordValue(us)` for integer `us` below 2^31, without its `Math.log2` / `Math.pow` /
 * division (about 10× cheaper, and it runs for every message): the same bucket index
 * (HdrHistogram's `countsArrayIndex` with a lowest discernible value of 1) from `Math.clz32`
 * and shifts, then the same updates `recordValue` makes. Anything else takes `recordValue`.
 */
export function recordValue(h: JsHistogram, us: number): void {
  if (us < 0x80000000 && h.unitMagnitude === 0) {
    const half = h.subBucketHalfCountMagnitude;
    // floor(log2(us)) - half, at least 0 (us = 0 lands in bucket 0 like any value below the first power).
    const bucket = Math.max(31 - Math.clz32(us) - half, 0);
    // Shifts, not `2 ** half`: V8's pow costs more than all the rest of a record together.
    const index = ((bucket + 1) << half) + (us >>> bucket) - h.subBucketHalfCount;
    if (index < h.countsArrayLength) {
      h.incrementCountAtIndex(index);
      h.updateMinAndMax(us);
      h.incrementTotalCount();
      return;
    }
  }
  h.recordValue(us);
}

/** Milliseconds to the integer microseconds a histogram records; `-1` for a value we refuse. */
export function toMicros(ms: number): number {
  const us = Math.round(ms * 1000);
  // NaN, negative and absurd (> ~285 years) values are dropped rather than thrown on.
  return us >= 0 && us <= Number.MAX_SAFE_INTEGER ? us : -1;
}

const clamp = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);

/**
 * The exact sum, min and max of the values merged into a histogram. HDR's own mean uses bucket
 * midpoints, and `add()` between histograms of different sizes re-records each bucket at its
 * lowest value, so merged min/max would drift by the resolution; we carry the exact ones.
 */
export class Extent {
  sumUs = 0;
  minUs = Number.POSITIVE_INFINITY;
  maxUs = 0;

  /** Takes in the values of `h`, a histogram recorded into directly (its min/max are exact). */
  include(h: JsHistogram, sumUs: number): void {
    if (h.totalCount === 0) return;
    this.sumUs += sumUs;
    const min = h.getCountAtIndex(0) > 0 ? 0 : h.minNonZeroValue;
    if (min < this.minUs) this.minUs = min;
    if (h.maxValue > this.maxUs) this.maxUs = h.maxValue;
  }

  reset(): void {
    this.sumUs = 0;
    this.minUs = Number.POSITIVE_INFINITY;
    this.maxUs = 0;
  }
}

/**
 * Summarise `h` in milliseconds with the exact `extent` of its values. Percentiles are HDR's
 * highest equivalent value, clamped into the exact [min, max] so the figures stay ordered:
 * min ≤ p50 ≤ p90 ≤ p99 ≤ p999 ≤ max.
 */
export function summarize(h: JsHistogram, extent: Extent): LatencySummary {
  const count = h.totalCount;
  if (count === 0) return emptySummary;
  const min = extent.minUs;
  const max = extent.maxUs;
  const sumUs = extent.sumUs;
  const at = (p: number): number => clamp(h.getValueAtPercentile(p), min, max) / 1000;
  return {
    count,
    min: min / 1000,
    p50: at(50),
    p90: at(90),
    p99: at(99),
    p999: at(99.9),
    max: max / 1000,
    mean: clamp(sumUs / count, min, max) / 1000,
  };
}

/**
 * Cumulative counts of recorded values ≤ each bound (bounds in µs, ascending), the shape of a
 * Prometheus histogram. A value is placed by the lowest value of its HDR bucket, so a value
 * within the histogram's resolution (0.1 % at 3 digits) above a bound may count under it.
 */
export function cumulativeCounts(h: JsHistogram, boundsUs: readonly number[]): number[] {
  const counts = new Array<number>(boundsUs.length).fill(0);
  if (h.totalCount === 0) return counts;
  const it = h.recordedValuesIterator;
  it.reset();
  let b = 0;
  let below = 0;
  while (it.hasNext()) {
    const step = it.next();
    const value = h.lowestEquivalentValue(step.valueIteratedTo);
    while (b < boundsUs.length && value > (boundsUs[b] as number)) counts[b++] = below;
    below += step.countAtValueIteratedTo;
  }
  while (b < boundsUs.length) counts[b++] = below;
  return counts;
}
