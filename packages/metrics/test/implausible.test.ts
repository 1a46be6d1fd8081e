import { describe, expect, it } from 'vitest';
import { metrics } from '../src/index.js';
import { client, deliver, server } from './helpers.js';

describe('implausible peer timestamps', () => {
  it('does not record a delivery whose msg.ts is 0, negative, or more than maxPlausibleMs off; counts it', () => {
    const m = metrics();
    const now = Date.now();
    m.onDeliver(deliver(now - 12, now), server('a'));
    m.onDeliver(deliver(0, now), server('a')); // once moved the mean to 8.9e9 ms
    m.onDeliver(deliver(-5, now), server('a'));
    m.onDeliver(deliver(now - 3_600_001, now), server('a'));
    m.onDeliver(deliver(now + 3_600_001, now), server('a')); // from the future
    const s = m.snapshot();
    expect(s.deliveryLatency).toMatchObject({ count: 1, min: 12, max: 12, mean: 12 });
    expect(s.delivered).toBe(5);
    expect(s.implausible).toBe(4);
    expect(s.deliveryClamped).toBe(0);
    expect(m.sessions({ side: 'server' })[0]?.implausible).toBe(4);
  });

  it('keeps an absurd heartbeat offset out of the clock estimate', () => {
    const m = metrics();
    m.onClock({ rttMs: 2, offsetMs: 1e12, at: 0 }, client);
    m.onClock({ rttMs: 2, offsetMs: Number.NaN, at: 0 }, client);
    expect(m.snapshot().clockOffset).toBeNull();
    m.onClock({ rttMs: 4, offsetMs: 30, at: 0 }, client);
    const s = m.snapshot();
    expect(s.clockOffset).toMatchObject({ offsetMs: 30, samples: 1 });
    expect(s.implausible).toBe(2);
  });

  it('takes the bound as an option, validated', () => {
    const m = metrics({ maxPlausibleMs: Infinity });
    m.onDeliver(deliver(1, 86_400_001), client); // a day: plausible for a durable outbox
    expect(m.snapshot().deliveryLatency.count).toBe(1);
    expect(() => metrics({ maxPlausibleMs: 0 })).toThrow(TypeError);
    expect(() => metrics({ maxPlausibleMs: Number.NaN })).toThrow(TypeError);
  });
});
