import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { metrics, type LatencySummary } from '@lifeline/metrics';
import { client, closeAll, nextEvent, startProxy, startServer, until } from '@lifeline/test-kit';

afterEach(closeAll);

function ordered(h: LatencySummary, wallMs: number): void {
  expect(h.min).toBeLessThanOrEqual(h.p50);
  expect(h.p50).toBeLessThanOrEqual(h.p90);
  expect(h.p90).toBeLessThanOrEqual(h.p99);
  expect(h.p99).toBeLessThanOrEqual(h.p999);
  expect(h.p999).toBeLessThanOrEqual(h.max);
  expect(h.min).toBeGreaterThanOrEqual(0);
  expect(h.max).toBeLessThanOrEqual(wallMs);
}

describe('the metrics plugin on a real client and server (issue 3)', () => {
  it('counts every acked send, orders its percentiles, fills the receive side, and exports parseable Prometheus text', async () => {
    const started = performance.now();
    const onServer = metrics();
    const onClient = metrics();
    const PUSHES = 50;
    const server = await startServer({ plugins: [onServer], handler: (d) => d });
    server.on('session', (s) => {
      for (let k = 0; k < PUSHES; k++) s.send({ k }).catch(() => {});
    });
    const proxy = await startProxy(server.port);
    const c = client(proxy.url(), { plugins: [onClient] });
    let pushes = 0;
    c.on('message', () => pushes++);
    await c.connect({ timeoutMs: 5_000 });

    const first = await Promise.all(Array.from({ length: 150 }, (_, i) => c.send(i, { timeoutMs: 10_000 })));
    proxy.cutAll(); // a reconnect in the middle: downtime and resume are recorded too
    const second = await Promise.all(Array.from({ length: 150 }, (_, i) => c.send(i, { timeoutMs: 10_000 })));
    await until(c, 'message', () => pushes >= PUSHES);
    const wallMs = performance.now() - started;

    const snap = onClient.snapshot();
    expect(first.length + second.length).toBe(300);
    expect(snap.ackLatency.count).toBe(300);
    expect(snap.acked).toBe(300);
    ordered(snap.ackLatency, wallMs);
    ordered(snap.wireLatency, wallMs);
    ordered(snap.queueWait, wallMs);
    expect(snap.deliveryLatency.count).toBe(PUSHES);
    expect(snap.resumes).toBeGreaterThanOrEqual(1);
    expect(snap.reconnectDowntime.count).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap); // plain JSON

    const serverSnap = onServer.snapshot();
    expect(serverSnap.delivered).toBe(300); // handler calls, each once
    expect(serverSnap.ackLatency.count).toBe(PUSHES); // session.send() acked by the client

    const registry = new Registry();
    onClient.register(registry);
    const text = await registry.metrics();
    expect(text).toMatch(/lifeline_ack_latency_seconds_count\{[^}]*\} 300/);
    const own = await onClient.prometheus();
    for (const line of own.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [-+0-9.eEInfa]+$/);
    }
  });

  it('keeps a client\'s sessions apart when the first is lost (server restart), and the totals whole', async () => {
    const onClient = metrics();
    const first = await startServer({ handler: (d) => d });
    const proxy = await startProxy(first.port);
    const c = client(proxy.url(), { plugins: [onClient] });
    await c.connect({ timeoutMs: 5_000 });
    await Promise.all(Array.from({ length: 20 }, (_, i) => c.send(i, { timeoutMs: 10_000 })));
    const firstId = c.sessionId as string;
    // While it has had one session, the client's session figures are its side's.
    expect(onClient.snapshot({ sessionId: firstId })?.ackLatency).toEqual(onClient.snapshot().ackLatency);

    const second = await startServer({ handler: (d) => d });
    const lost = nextEvent<{ unknown: number }>(c, 'session-lost', 10_000);
    proxy.setTarget({ port: second.port });
    await first.close({ timeoutMs: 50 });
    proxy.cutAll();
    expect((await lost).unknown).toBe(0);
    await Promise.all(Array.from({ length: 30 }, (_, i) => c.send(i, { timeoutMs: 10_000 })));
    const secondId = c.sessionId as string;
    expect(secondId).not.toBe(firstId);

    const sessions = onClient.sessions();
    expect(sessions.map((s) => [s.sessionId, s.acked, s.ackLatency.count])).toEqual([
      [firstId, 20, 20],
      [secondId, 30, 30],
    ]);
    expect(sessions[1]?.sessionsLost).toBe(1);
    const total = onClient.snapshot();
    expect(total.acked).toBe(50);
    expect(total.ackLatency.count).toBe(50);
  });
});
