import { describe, expect, it } from 'vitest';
import { manualClock } from '@lifeline/test-kit';
import { metrics } from '../src/index.js';
import { ack, client, server } from './helpers.js';

describe('windowMs: snapshots cover roughly the last window', () => {
  it('rotates interval histograms lazily with the injected clock', () => {
    const clock = manualClock(50_000);
    const m = metrics({ windowMs: 10_000, windowSlots: 5, now: clock.now }); // 2 s slots
    m.onAck(ack(100), client); // slot 0
    clock.advance(3_000);
    m.onAck(ack(200), client); // slot 1
    clock.advance(4_000);
    m.onAck(ack(300), client); // slot 3
    let s = m.snapshot();
    expect(s.ackLatency).toMatchObject({ count: 3, min: 100, max: 300 });
    expect(s.windowMs).toBe(10_000);
    expect(s.sinceMs).toBe(7_000);

    clock.advance(3_500); // t = 10.5 s: slot 5, the window now starts at slot 1 (t = 2 s)
    s = m.snapshot();
    expect(s.ackLatency).toMatchObject({ count: 2, min: 200, max: 300 });
    expect(s.sinceMs).toBe(8_500);

    clock.advance(4_000); // t = 14.5 s: slot 7, the window starts at t = 6 s
    s = m.snapshot();
    expect(s.ackLatency).toMatchObject({ count: 1, min: 300, max: 300 });

    clock.advance(60_000); // long idle: everything has left the window
    s = m.snapshot();
    expect(s.ackLatency.count).toBe(0);
    expect(s.sinceMs).toBeGreaterThanOrEqual(8_000);
    expect(s.sinceMs).toBeLessThanOrEqual(10_000);
  });

  it('rotates on record too, without a snapshot in between', () => {
    const clock = manualClock();
    const m = metrics({ windowMs: 1_000, windowSlots: 2, now: clock.now });
    for (let i = 0; i < 10; i++) {
      m.onAck(ack(i + 1), client);
      clock.advance(500);
    }
    // t = 5 s, slot 10: slot 9 (t 4.5–5 s) holds ack 10, slot 10 is empty.
    expect(m.snapshot().ackLatency).toMatchObject({ count: 1, min: 10 });
  });

  it('keeps counters and exports cumulative while histograms slide', async () => {
    const clock = manualClock();
    const m = metrics({ windowMs: 1_000, windowSlots: 2, now: clock.now });
    m.onAck(ack(3), client);
    clock.advance(5_000);
    m.onAck(ack(4), client);
    const s = m.snapshot();
    expect(s.ackLatency.count).toBe(1);
    expect(s.acked).toBe(2);
    const text = await m.prometheus();
    expect(text).toContain('lifeline_ack_latency_seconds_count{side="client"} 2');
    expect(text).toContain('lifeline_ack_latency_seconds_sum{side="client"} 0.007');
  });

  it('does not reopen old slots when the clock steps back', () => {
    const clock = manualClock(10_000);
    const m = metrics({ windowMs: 1_000, now: clock.now });
    m.onAck(ack(1), client);
    clock.advance(-5_000);
    m.onAck(ack(2), client);
    expect(m.snapshot().ackLatency.count).toBe(2);
  });

  it('covers per-session figures over the session lifetime', () => {
    const clock = manualClock();
    const m = metrics({ windowMs: 1_000, now: clock.now });
    m.onAck(ack(1), server('a'));
    clock.advance(5_000);
    expect(m.snapshot().ackLatency.count).toBe(0);
    expect(m.snapshot({ sessionId: 'a' })).toMatchObject({ windowMs: null, sinceMs: 5_000, ackLatency: { count: 1 } });
  });
});
