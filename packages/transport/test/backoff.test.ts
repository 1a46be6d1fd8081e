import { describe, expect, it } from 'vitest';
import { fullJitterBackoff } from '../src/index.js';

const opts = (random: () => number) => ({ minDelayMs: 500, maxDelayMs: 15_000, random });

describe('fullJitterBackoff', () => {
  it('is 0 when random() is 0', () => {
    for (let attempt = 0; attempt < 10; attempt++) expect(fullJitterBackoff(attempt, opts(() => 0))).toBe(0);
  });

  it('reaches min(maxDelayMs, minDelayMs * 2^attempt) when random() is just below 1', () => {
    const top = () => 0.999_999_999;
    expect(fullJitterBackoff(0, opts(top))).toBe(500);
    expect(fullJitterBackoff(1, opts(top))).toBe(1_000);
    expect(fullJitterBackoff(2, opts(top))).toBe(2_000);
    expect(fullJitterBackoff(4, opts(top))).toBe(8_000);
  });

  it('never passes maxDelayMs, however many attempts', () => {
    const top = () => 0.999_999_999;
    expect(fullJitterBackoff(5, opts(top))).toBe(15_000);
    expect(fullJitterBackoff(60, opts(top))).toBe(15_000);
    expect(fullJitterBackoff(5_000, opts(top))).toBe(15_000);
  });

  it('stays within [0, ceiling] for any random value', () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let attempt = 0; attempt < 12; attempt++) {
      const ceiling = Math.min(15_000, 500 * 2 ** attempt);
      for (let i = 0; i < 200; i++) {
        const d = fullJitterBackoff(attempt, opts(random));
        expect(Number.isInteger(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(ceiling);
      }
    }
  });

  it('scales with random() (uniform over the window)', () => {
    expect(fullJitterBackoff(3, opts(() => 0.5))).toBe(2_000);
    expect(fullJitterBackoff(3, opts(() => 0.25))).toBe(1_000);
  });
});
