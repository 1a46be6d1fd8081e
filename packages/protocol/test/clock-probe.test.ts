import { describe, expect, it } from 'vitest';
import { ClockProbe } from '../src/internal.js';

describe('ClockProbe', () => {
  it('takes the one pong that answers the last ping, once, and reads the round trip and offset from it', () => {
    const probe = new ClockProbe();
    expect(probe.answer(100, 5_000, 140)).toBeUndefined(); // no ping sent yet
    probe.sent(100);
    expect(probe.answer(99, 5_000, 140)).toBeUndefined(); // answers another ping
    // Sent at 100, answered at the peer's 5_000, read at 140: rtt 40, offset 5_000 − 120.
    expect(probe.answer(100, 5_000, 140)).toEqual({ rttMs: 40, offsetMs: 4_880 });
    expect(probe.answer(100, 5_000, 150)).toBeUndefined(); // replayed
  });

  it('never reports a negative round trip when the wall clock stepped back', () => {
    const probe = new ClockProbe();
    probe.sent(1_000);
    expect(probe.answer(1_000, 1_000, 900)?.rttMs).toBe(0);
  });
});
