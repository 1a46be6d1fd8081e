import { describe, expect, it } from 'vitest';
import { manualClock } from '@lifeline/test-kit';
import { metrics } from '../src/index.js';
import { ack, client, ctxOf, deliver, server, transmit } from './helpers.js';

describe('metrics() on the client', () => {
  it('counts one ackLatency and one wireLatency value per onAck', () => {
    const m = metrics();
    for (let i = 0; i < 250; i++) m.onAck(ack(10 + (i % 50), 2), client);
    m.onAck({ ...ack(30, 1), errorCode: 'ERR_HANDLER' }, client);
    const s = m.snapshot();
    expect(s.ackLatency.count).toBe(251);
    expect(s.wireLatency.count).toBe(251);
    expect(s.acked).toBe(250);
    expect(s.remoteErrors).toBe(1);
    // wire latency excludes the queueing: ack − first transmit.
    expect(s.ackLatency.min).toBe(10);
    expect(s.wireLatency.min).toBe(8);
    expect(s.ackLatency.max).toBe(59);
  });

  it('keeps percentiles ordered and within the recorded range', () => {
    const m = metrics();
    const values: number[] = [];
    let x = 12345;
    for (let i = 0; i < 5_000; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31; // deterministic pseudo-random
      const ms = 0.05 + (x / 2 ** 31) ** 4 * 2_000; // long tail
      values.push(ms);
      m.onAck(ack(ms), client);
    }
    const a = m.snapshot().ackLatency;
    const lo = Math.min(...values);
    const hi = Math.max(...values);
    expect(a.min).toBeGreaterThanOrEqual(lo - 0.001);
    expect(a.max).toBeLessThanOrEqual(hi + 0.001);
    const ordered = [a.min, a.p50, a.p90, a.p99, a.p999, a.max];
    for (let i = 1; i < ordered.length; i++) expect(ordered[i]).toBeGreaterThanOrEqual(ordered[i - 1] as number);
    const sorted = [...values].sort((p, q) => p - q);
    const exact = (p: number) => sorted[Math.ceil((p / 100) * sorted.length) - 1] as number;
    for (const [p, v] of [[50, a.p50], [90, a.p90], [99, a.p99]] as const) {
      expect(Math.abs(v - exact(p))).toBeLessThanOrEqual(exact(p) * 0.001 + 0.001);
    }
    expect(a.mean).toBeCloseTo(values.reduce((p, q) => p + q, 0) / values.length, 2);
  });

  it('records queue wait on first transmissions only and counts retransmissions', () => {
    const m = metrics();
    m.onTransmit(transmit(3), client);
    m.onTransmit(transmit(7), client);
    m.onTransmit(transmit(900, true), client);
    const s = m.snapshot();
    expect(s.queueWait).toMatchObject({ count: 2, min: 3, max: 7, mean: 5 });
    expect(s.retransmitted).toBe(1);
  });

  it('counts every event kind', () => {
    const m = metrics();
    m.onSend({ id: 'a', bytes: 10, at: 1 }, client);
    m.onSend({ id: 'b', bytes: 10, at: 1 }, client);
    m.onFail({ id: 'a', code: 'ERR_ACK_TIMEOUT', maybeDelivered: true, at: 2 }, client);
    m.onFail({ id: 'b', code: 'ERR_ACK_TIMEOUT', maybeDelivered: false, at: 2 }, client);
    m.onFail({ id: 'c', code: 'ERR_CLOSED', maybeDelivered: false, at: 2 }, client);
    m.onReceive({ id: 'x', seq: 1, sentAt: 1, wallAt: 2, at: 2, duplicate: false }, client);
    m.onReceive({ id: 'x', seq: 1, sentAt: 1, wallAt: 2, at: 2, duplicate: true }, client);
    m.onDeliver(deliver(1_000, 1_004), client);
    m.onState({ from: 'idle', to: 'connecting', reason: 'connect', at: 1 }, client);
    m.onState({ from: 'connecting', to: 'open', reason: 'welcome', at: 1 }, client);
    m.onState({ from: 'open', to: 'reconnecting', reason: 'heartbeat', at: 1 }, client);
    m.onState({ from: 'reconnecting', to: 'open', reason: 'welcome', at: 1 }, client);
    m.onReconnect({ attempt: 1, delayMs: 500, at: 1 }, client);
    m.onReconnect({ attempt: 2, delayMs: 900, at: 1 }, client);
    m.onResume({ resumed: true, replayed: 3, downtimeMs: 1_500, at: 1 }, client);
    m.onResume({ resumed: false, replayed: 0, downtimeMs: 130_000, at: 1 }, client);
    m.onSessionLost({ unknown: 2, at: 1 }, client);
    m.onDrop({ reason: 'queue-full', count: 4, at: 1 }, client);
    m.onDrop({ reason: 'payload-too-large', count: 1, at: 1 }, client);
    m.onProtocolError({ closeCode: 4400, message: 'bad frame', at: 1 }, client);
    m.onBytes({ in: 120, out: 0 }, client);
    m.onBytes({ in: 0, out: 80 }, client);
    const s = m.snapshot();
    expect(s).toMatchObject({
      sent: 2,
      failed: { ERR_ACK_TIMEOUT: 2, ERR_CLOSED: 1 },
      received: 2,
      duplicatesDropped: 1,
      delivered: 1,
      states: { connecting: 1, open: 2, reconnecting: 1 },
      reconnects: 2,
      resumes: 1,
      replayed: 3,
      sessionsLost: 1,
      unknownOutcomes: 2,
      drops: { 'queue-full': 4, 'payload-too-large': 1 },
      protocolErrors: 1,
      bytesIn: 120,
      bytesOut: 80,
      deliveryClamped: 0,
    });
    expect(s.reconnectDowntime).toMatchObject({ count: 2, min: 1_500, max: 130_000 });
  });

  it('returns plain JSON with counters, histograms, sinceMs and takenAt', () => {
    const clock = manualClock(100);
    const m = metrics({ now: clock.now });
    m.onAck(ack(12.5), client);
    clock.advance(2_000);
    const before = Date.now();
    const s = m.snapshot();
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
    expect(s.sinceMs).toBe(2_000);
    expect(s.windowMs).toBeNull();
    expect(s.takenAt).toBeGreaterThanOrEqual(before);
    expect(s.ackLatency).toEqual({ count: 1, min: 12.5, p50: 12.5, p90: 12.5, p99: 12.5, p999: 12.5, max: 12.5, mean: 12.5 });
    expect(s.deliveryLatency).toEqual({ count: 0, min: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 });
  });

  it('reset() forgets histograms, counters, sessions and restarts sinceMs', () => {
    const clock = manualClock();
    const m = metrics({ now: clock.now });
    m.onSend({ id: 'a', bytes: 1, at: 0 }, client);
    m.onAck(ack(5), client);
    m.onAck(ack(5), server('s1'));
    m.onClock({ rttMs: 2, offsetMs: 50, at: 0 }, client);
    clock.advance(1_000);
    m.reset();
    clock.advance(10);
    const s = m.snapshot();
    expect(s.ackLatency.count).toBe(0);
    expect(s.sent).toBe(0);
    expect(s.acked).toBe(0);
    expect(s.sinceMs).toBe(10);
    expect(s.clockOffset).toBeNull();
    expect(m.sessions()).toEqual([]);
    m.onAck(ack(7), client);
    expect(m.snapshot().ackLatency).toMatchObject({ count: 1, min: 7 });
  });

  it('rejects bad options with a TypeError', () => {
    expect(() => metrics({ windowMs: 0 })).toThrow(TypeError);
    expect(() => metrics({ windowSlots: 1.5 })).toThrow(TypeError);
    expect(() => metrics({ maxSessions: -1 })).toThrow(TypeError);
    expect(() => metrics({ clockSamples: 0 })).toThrow(TypeError);
    expect(() => metrics({ latencyBucketsMs: [5, 1] })).toThrow(TypeError);
    expect(() => metrics({ downtimeBucketsMs: [] })).toThrow(TypeError);
    expect(() => metrics({ maxSessions: 0, windowMs: 5_000 })).not.toThrow();
  });
});

describe('deliveryLatency and the clock offset', () => {
  it('corrects by the offset of the lowest-RTT recent heartbeat (peer clock ahead)', () => {
    const m = metrics();
    // The server's clock is 100 ms ahead of ours: offset = peer − local = +100.
    m.onClock({ rttMs: 30, offsetMs: 112, at: 0 }, client); // inflated round trip, worse estimate
    m.onClock({ rttMs: 4, offsetMs: 100, at: 0 }, client);
    m.onClock({ rttMs: 18, offsetMs: 93, at: 0 }, client);
    // Sent at true time T = 10_000 (server stamps 10_100), delivered here at T + 7.
    m.onDeliver(deliver(10_100, 10_007), client);
    const s = m.snapshot();
    expect(s.deliveryLatency).toMatchObject({ count: 1, min: 7, max: 7 });
    expect(s.clockOffset).toEqual({ offsetMs: 100, rttMs: 4, errorMs: 2, samples: 3 });
  });

  it('corrects a peer clock that is behind', () => {
    const m = metrics();
    m.onClock({ rttMs: 1, offsetMs: -250, at: 0 }, client);
    m.onDeliver(deliver(9_750, 10_003), client); // true latency 3 ms
    expect(m.snapshot().deliveryLatency.max).toBe(3);
  });

  it('clamps negative results to 0 and counts them', () => {
    const m = metrics();
    m.onClock({ rttMs: 10, offsetMs: 0, at: 0 }, client);
    m.onDeliver(deliver(10_004, 10_000), client); // the estimate is 4 ms off, within its ± 5 ms
    m.onDeliver(deliver(10_000, 10_002), client);
    const s = m.snapshot();
    expect(s.deliveryLatency).toMatchObject({ count: 2, min: 0, max: 2 });
    expect(s.deliveryClamped).toBe(1);
  });

  it('uses each session its own peer clock on the server', () => {
    const m = metrics();
    m.onClock({ rttMs: 2, offsetMs: -40, at: 0 }, server('a')); // client a is 40 ms behind the server
    m.onClock({ rttMs: 2, offsetMs: 60, at: 0 }, server('b')); // client b is 60 ms ahead
    m.onDeliver(deliver(10_000 - 40, 10_005), server('a'));
    m.onDeliver(deliver(10_000 + 60, 10_009), server('b'));
    expect(m.snapshot({ sessionId: 'a' })?.deliveryLatency.max).toBe(5);
    expect(m.snapshot({ sessionId: 'b' })?.deliveryLatency.max).toBe(9);
    expect(m.snapshot().deliveryLatency).toMatchObject({ count: 2, min: 5, max: 9 });
    // A server has no single peer clock to report.
    expect(m.snapshot().clockOffset).toBeNull();
    expect(m.snapshot({ sessionId: 'b' })?.clockOffset?.offsetMs).toBe(60);
  });
});

describe('per session on the server', () => {
  it('gives totals from snapshot() and per-session figures from snapshot({ sessionId }) and sessions()', () => {
    const m = metrics();
    for (let i = 0; i < 3; i++) m.onAck(ack(10), server('a'));
    for (let i = 0; i < 5; i++) m.onAck(ack(20), server('b'));
    m.onSend({ id: 'x', bytes: 1, at: 0 }, server('b'));
    m.onProtocolError({ closeCode: 4400, message: 'bad', at: 0 }, server(undefined)); // before any session
    const total = m.snapshot();
    expect(total.ackLatency).toMatchObject({ count: 8, min: 10, max: 20 });
    expect(total.protocolErrors).toBe(1);
    const a = m.snapshot({ sessionId: 'a' });
    const b = m.snapshot({ sessionId: 'b' });
    expect(a?.ackLatency).toMatchObject({ count: 3, min: 10, max: 10 });
    expect(b?.ackLatency).toMatchObject({ count: 5, min: 20, max: 20 });
    expect(b?.sent).toBe(1);
    expect(a?.protocolErrors).toBe(0);
    expect(m.snapshot({ sessionId: 'nope' })).toBeUndefined();
    const list = m.sessions();
    expect(list.map((s) => [s.side, s.sessionId, s.ackLatency.count])).toEqual([
      ['server', 'a', 3],
      ['server', 'b', 5],
    ]);
  });

  it('bounds the sessions tracked, dropping the least recently active', () => {
    const m = metrics({ maxSessions: 2 });
    m.onAck(ack(1), server('a'));
    m.onAck(ack(2), server('b'));
    m.onAck(ack(1), server('a')); // a is now the most recent
    m.onAck(ack(3), server('c')); // evicts b
    expect(m.sessions().map((s) => s.sessionId)).toEqual(['a', 'c']);
    expect(m.snapshot({ sessionId: 'b' })).toBeUndefined();
    // The recycled scope starts clean.
    expect(m.snapshot({ sessionId: 'c' })?.ackLatency).toMatchObject({ count: 1, min: 3 });
    expect(m.snapshot({ sessionId: 'a' })?.ackLatency.count).toBe(2);
    // Totals keep everything.
    expect(m.snapshot().ackLatency.count).toBe(4);
  });

  it('keeps totals only with maxSessions 0', () => {
    const m = metrics({ maxSessions: 0 });
    m.onAck(ack(1), server('a'));
    expect(m.sessions()).toEqual([]);
    expect(m.snapshot({ sessionId: 'a' })).toBeUndefined();
    expect(m.snapshot().ackLatency.count).toBe(1);
  });

  it('keeps the two sides apart when one plugin serves a client and a server', () => {
    const m = metrics();
    m.onAck(ack(4), ctxOf('client', 'same'));
    m.onAck(ack(6), ctxOf('server', 'same'));
    m.onAck(ack(8), ctxOf('server', 'same'));
    expect(m.snapshot({ side: 'client' }).ackLatency.count).toBe(1);
    expect(m.snapshot({ side: 'server' }).ackLatency.count).toBe(2);
    expect(m.snapshot().ackLatency.count).toBe(3);
    expect(m.snapshot({ sessionId: 'same', side: 'server' })?.ackLatency.count).toBe(2);
    expect(m.snapshot({ sessionId: 'same' })?.ackLatency.count).toBe(3);
    expect(m.sessions().map((s) => s.side)).toEqual(['client', 'server']);
  });
});

describe('per session on the client', () => {
  it('reports the one session a client has had with the side figures', () => {
    const m = metrics();
    m.onState({ from: 'idle', to: 'connecting', reason: 'connect', at: 0 }, ctxOf('client')); // no session yet
    for (let i = 0; i < 4; i++) m.onAck(ack(10 + i), ctxOf('client', 's1'));
    m.onClock({ rttMs: 2, offsetMs: 7, at: 0 }, ctxOf('client', 's1'));
    const s1 = m.snapshot({ sessionId: 's1' });
    expect(s1?.ackLatency).toEqual(m.snapshot().ackLatency);
    expect(s1).toMatchObject({ acked: 4, windowMs: null, clockOffset: { offsetMs: 7 } });
    // What happened before the first session existed is counted in it.
    expect(s1?.states).toEqual({ connecting: 1 });
    expect(m.sessions().map((s) => [s.side, s.sessionId, s.acked])).toEqual([['client', 's1', 4]]);
    expect(m.snapshot({ sessionId: 'other' })).toBeUndefined();
  });

  it('keeps the first session apart once a second one starts (session lost)', () => {
    const m = metrics();
    for (let i = 0; i < 3; i++) m.onAck(ack(10), ctxOf('client', 's1'));
    m.onClock({ rttMs: 2, offsetMs: 7, at: 0 }, ctxOf('client', 's1'));
    m.onSessionLost({ unknown: 1, at: 0 }, ctxOf('client', 's2'));
    for (let i = 0; i < 5; i++) m.onAck(ack(30), ctxOf('client', 's2'));
    expect(m.snapshot({ sessionId: 's1' })).toMatchObject({ acked: 3, ackLatency: { count: 3, min: 10, max: 10 }, clockOffset: { offsetMs: 7 } });
    expect(m.snapshot({ sessionId: 's2' })).toMatchObject({ acked: 5, sessionsLost: 1, ackLatency: { count: 5, min: 30, max: 30 } });
    expect(m.snapshot().ackLatency).toMatchObject({ count: 8, min: 10, max: 30 });
    expect(m.sessions().map((s) => [s.sessionId, s.acked])).toEqual([
      ['s1', 3],
      ['s2', 5],
    ]);
  });

  it('gives the one session everything since it started, even with a window', () => {
    const clock = manualClock();
    const m = metrics({ windowMs: 1_000, windowSlots: 2, now: clock.now });
    m.onAck(ack(10), ctxOf('client', 's1'));
    clock.advance(5_000);
    m.onAck(ack(20), ctxOf('client', 's1'));
    expect(m.snapshot().ackLatency.count).toBe(1); // the window
    expect(m.snapshot({ sessionId: 's1' })).toMatchObject({ sinceMs: 5_000, ackLatency: { count: 2, min: 10, max: 20 } });
    m.onAck(ack(40), ctxOf('client', 's2'));
    expect(m.snapshot({ sessionId: 's1' })?.ackLatency).toMatchObject({ count: 2, min: 10, max: 20 });
    expect(m.snapshot({ sessionId: 's2' })?.ackLatency).toMatchObject({ count: 1, min: 40 });
  });

  it('forgets the session with reset()', () => {
    const m = metrics();
    m.onAck(ack(10), ctxOf('client', 's1'));
    m.reset();
    expect(m.sessions()).toEqual([]);
    m.onAck(ack(10), ctxOf('client', 's2'));
    expect(m.sessions().map((s) => s.sessionId)).toEqual(['s2']);
  });
});
