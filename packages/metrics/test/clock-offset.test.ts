import { describe, expect, it } from 'vitest';
import { ClockOffset } from '../src/clock-offset.js';

describe('clock offset (min-RTT filter)', () => {
  it('starts with no estimate and offset 0', () => {
    const c = new ClockOffset(8);
    expect(c.estimate()).toBeNull();
    expect(c.offsetMs).toBe(0);
  });

  it('keeps the offset of the lowest-RTT sample, with error bound rtt / 2', () => {
    const c = new ClockOffset(8);
    c.update(40, 130);
    c.update(4, 101);
    c.update(25, 90);
    expect(c.estimate()).toEqual({ offsetMs: 101, rttMs: 4, errorMs: 2, samples: 3 });
  });

  it('forgets the best sample once it is older than the last `size` samples', () => {
    const c = new ClockOffset(3);
    c.update(2, 100);
    c.update(10, 110);
    c.update(12, 112);
    expect(c.offsetMs).toBe(100);
    c.update(8, 120); // overwrites the rtt-2 sample
    expect(c.estimate()).toMatchObject({ offsetMs: 120, rttMs: 8, samples: 4 });
  });

  it('ignores samples that cannot be right', () => {
    const c = new ClockOffset(4);
    c.update(-1, 5);
    c.update(Number.NaN, 5);
    c.update(3, Number.POSITIVE_INFINITY);
    expect(c.estimate()).toBeNull();
  });
});
