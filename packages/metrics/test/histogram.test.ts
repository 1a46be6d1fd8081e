import { describe, expect, it } from 'vitest';
import type { JsHistogram } from 'hdr-histogram-js';
import { createHistogram, cumulativeCounts, emptySummary, Extent, recordValue, summarize, toMicros } from '../src/histogram.js';

/** Summarises a histogram recorded into directly, given the exact sum of its values. */
function summary(h: JsHistogram, sumUs: number) {
  const extent = new Extent();
  extent.include(h, sumUs);
  return summarize(h, extent);
}

describe('HDR summary', () => {
  it('reports an empty histogram as count 0 and zeros', () => {
    const h = createHistogram(3);
    expect(summary(h, 0)).toEqual(emptySummary);
    expect(emptySummary).toEqual({ count: 0, min: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 });
  });

  it('keeps percentiles ordered and inside [min, max], in milliseconds', () => {
    const h = createHistogram(3);
    let sum = 0;
    for (let i = 1; i <= 10_000; i++) {
      const us = 137 * i; // 0.137 ms … 1370 ms
      h.recordValue(us);
      sum += us;
    }
    const s = summary(h, sum);
    expect(s.count).toBe(10_000);
    expect(s.min).toBe(0.137);
    expect(s.max).toBe(1370);
    expect([s.min, s.p50, s.p90, s.p99, s.p999, s.max]).toEqual([...[s.min, s.p50, s.p90, s.p99, s.p999, s.max]].sort((a, b) => a - b));
    // 3 significant digits: within 0.1 % of the exact percentile.
    expect(Math.abs(s.p50 - 685) / 685).toBeLessThan(0.001);
    expect(Math.abs(s.p99 - 1356.3) / 1356.3).toBeLessThan(0.001);
    expect(s.mean).toBeCloseTo(685.0685, 6);
  });

  it('clamps a single value so that no percentile exceeds the exact max', () => {
    const h = createHistogram(3);
    h.recordValue(5001); // HDR's bucket is 5000–5003 µs
    const s = summary(h, 5001);
    expect(s).toEqual({ count: 1, min: 5.001, p50: 5.001, p90: 5.001, p99: 5.001, p999: 5.001, max: 5.001, mean: 5.001 });
  });

  it('reports a recorded zero as min 0', () => {
    const h = createHistogram(3);
    h.recordValue(0);
    h.recordValue(2000);
    expect(summary(h, 2000).min).toBe(0);
  });

  it('keeps the exact min and max across a merge of differently sized histograms', () => {
    const a = createHistogram(3);
    const b = createHistogram(3);
    a.recordValue(200_000);
    b.recordValue(300_001);
    b.recordValue(9_000_000);
    b.reset(); // keeps its larger array: the merge below takes HDR's slow path
    b.recordValue(300_001);
    const merged = createHistogram(3);
    const extent = new Extent();
    merged.add(a);
    extent.include(a, 200_000);
    merged.add(b);
    extent.include(b, 300_001);
    expect(summarize(merged, extent)).toMatchObject({ count: 2, min: 200, max: 300.001, mean: 250.0005 });
  });

  it('converts milliseconds to integer microseconds and refuses NaN and negatives', () => {
    expect(toMicros(1.2345)).toBe(1235);
    expect(toMicros(0)).toBe(0);
    expect(toMicros(-0.1)).toBe(-1);
    expect(toMicros(Number.NaN)).toBe(-1);
    expect(toMicros(Number.POSITIVE_INFINITY)).toBe(-1);
  });

  it('records exactly as HdrHistogram recordValue does, at every digit setting', () => {
    const values = [0, 1, 2, 3, 1023, 1024, 1025, 2047, 2048, 4095, 65_535, 65_536, 1_000_000, 2 ** 31 - 1, 2 ** 31, 2 ** 40 + 7];
    for (let i = 1; i < 31; i++) values.push(2 ** i - 1, 2 ** i, 2 ** i + 1, Math.floor(1.37 ** i));
    for (const digits of [1, 2, 3, 4, 5] as const) {
      const fast = createHistogram(digits);
      const slow = createHistogram(digits);
      for (const us of values) {
        recordValue(fast, us);
        slow.recordValue(us);
      }
      expect(fast.totalCount).toBe(slow.totalCount);
      expect(fast.maxValue).toBe(slow.maxValue);
      expect(fast.minNonZeroValue).toBe(slow.minNonZeroValue);
      expect(fast.countsArrayLength).toBe(slow.countsArrayLength);
      // A plain loop, one expect: at 5 digits and 2^40 the arrays hold millions of counts.
      const differing: number[] = [];
      for (let i = 0; i < slow.countsArrayLength; i++) if (fast.getCountAtIndex(i) !== slow.getCountAtIndex(i)) differing.push(i);
      expect(differing).toEqual([]);
    }
  });

  it('counts values at or below each bucket bound, cumulatively', () => {
    const h = createHistogram(3);
    for (const us of [100, 500, 1000, 1001, 5000, 5002, 20_000]) h.recordValue(us);
    expect(cumulativeCounts(h, [500, 1000, 5000, 10_000])).toEqual([2, 3, 6, 6]);
    expect(cumulativeCounts(createHistogram(3), [1, 2])).toEqual([0, 0]);
  });
});
