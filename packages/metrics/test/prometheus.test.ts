import { Registry, type OpenMetricsContentType } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { metrics, type Metrics } from '../src/index.js';
import { checkExposition, parseExposition, sampleMap } from './exposition.js';
import { ack, client, deliver, server } from './helpers.js';

function busyPlugin(): Metrics {
  const m = metrics();
  for (const ms of [0.3, 0.8, 1, 1.7, 4, 9, 30, 120, 800, 20_000]) m.onAck(ack(ms, ms / 10), client);
  m.onTransmit({ id: 'a', seq: 1, queuedAt: 0, at: 2, retransmit: false }, client);
  m.onFail({ id: 'a', code: 'ERR_ACK_TIMEOUT', maybeDelivered: true, at: 1 }, client);
  m.onFail({ id: 'b', code: 'ERR_CLOSED', maybeDelivered: false, at: 1 }, client);
  m.onDrop({ reason: 'queue-full', count: 3, at: 1 }, client);
  m.onState({ from: 'idle', to: 'connecting', reason: 'connect', at: 1 }, client);
  m.onResume({ resumed: true, replayed: 2, downtimeMs: 1_234, at: 1 }, client);
  m.onSend({ id: 'c', bytes: 3, at: 1 }, server('s1'));
  m.onDeliver(deliver(1_000, 1_003), server('s1'));
  m.onBytes({ in: 10, out: 20 }, server('s1'));
  return m;
}

describe('prometheus()', () => {
  it('produces valid exposition text: HELP/TYPE, samples, cumulative buckets ending at +Inf = _count', async () => {
    const text = await busyPlugin().prometheus();
    const parsed = checkExposition(text);
    expect(parsed.type.get('lifeline_ack_latency_seconds')).toBe('histogram');
    expect(parsed.type.get('lifeline_messages_sent_total')).toBe('counter');
    expect([...parsed.type.keys()].every((name) => name.startsWith('lifeline_'))).toBe(true);
    const samples = sampleMap(parsed);
    expect(samples.get('lifeline_ack_latency_seconds_count[["side","client"]]')).toBe(10);
    expect(samples.get('lifeline_ack_latency_seconds_bucket[["le","0.001"],["side","client"]]')).toBe(3);
    expect(samples.get('lifeline_ack_latency_seconds_bucket[["le","0.01"],["side","client"]]')).toBe(6);
    expect(samples.get('lifeline_ack_latency_seconds_bucket[["le","+Inf"],["side","client"]]')).toBe(10);
    expect(samples.get('lifeline_ack_latency_seconds_sum[["side","client"]]')).toBeCloseTo(20.9668, 9);
    expect(samples.get('lifeline_reconnect_downtime_seconds_bucket[["le","2.5"],["side","client"]]')).toBe(1);
    expect(samples.get('lifeline_messages_failed_total[["code","ERR_ACK_TIMEOUT"],["side","client"]]')).toBe(1);
    expect(samples.get('lifeline_drops_total[["reason","queue-full"],["side","client"]]')).toBe(3);
    expect(samples.get('lifeline_messages_sent_total[["side","server"]]')).toBe(1);
    expect(samples.get('lifeline_bytes_sent_total[["side","server"]]')).toBe(20);
    expect(samples.get('lifeline_delivery_latency_seconds_count[["side","server"]]')).toBe(1);
  });

  it('emits only HELP and TYPE lines before any event', async () => {
    const text = await metrics().prometheus();
    const parsed = checkExposition(text);
    expect(parsed.samples).toEqual([]);
    expect(parsed.help.size).toBeGreaterThan(15);
  });

  it('escapes label values', async () => {
    const m = metrics();
    m.onState({ from: 'a', to: 'we"ird\\state\nx', reason: '', at: 0 }, client);
    const parsed = checkExposition(await m.prometheus());
    expect(parsed.samples.find((s) => s.name === 'lifeline_state_transitions_total')?.labels.to).toBe('we"ird\\state\nx');
  });
});

describe('register(registry) with prom-client', () => {
  it("serves the same samples through prom-client's own Registry", async () => {
    const m = busyPlugin();
    const registry = new Registry();
    m.register(registry);
    const text = await registry.metrics();
    const theirs = checkExposition(text);
    const ours = checkExposition(await m.prometheus());
    expect(sampleMap(theirs)).toEqual(sampleMap(ours));
    expect(theirs.type).toEqual(ours.type);
    const json = await registry.getMetricsAsJSON();
    expect(json.find((f) => f.name === 'lifeline_ack_latency_seconds')?.type).toBe('histogram');
  });

  it('reads fresh values at every scrape', async () => {
    const m = metrics();
    const registry = new Registry();
    m.register(registry);
    m.onSend({ id: 'a', bytes: 1, at: 0 }, client);
    expect(await registry.metrics()).toContain('lifeline_messages_sent_total{side="client"} 1');
    m.onSend({ id: 'b', bytes: 1, at: 0 }, client);
    expect(await registry.metrics()).toContain('lifeline_messages_sent_total{side="client"} 2');
  });

  it('works with an OpenMetrics registry and its default labels', async () => {
    const m = busyPlugin();
    // prom-client's typings omit the constructor's content-type parameter.
    const OpenMetricsRegistry = Registry as unknown as new (type: OpenMetricsContentType) => Registry<OpenMetricsContentType>;
    const registry = new OpenMetricsRegistry(Registry.OPENMETRICS_CONTENT_TYPE);
    registry.setDefaultLabels({ app: 'demo' });
    m.register(registry);
    const text = await registry.metrics();
    expect(text).toContain('lifeline_messages_sent_total{side="server",app="demo"} 1');
    expect(text).not.toContain('_total_total');
    expect(text).toContain('lifeline_ack_latency_seconds_bucket{side="client",le="+Inf",app="demo"} 10');
    parseExposition(text);
  });

  it('unregisters, and refuses a second registration of the same names', async () => {
    const m = busyPlugin();
    const registry = new Registry();
    const unregister = m.register(registry);
    expect(() => metrics().register(registry)).toThrow(/already been registered/);
    unregister();
    expect(await registry.metrics()).not.toContain('lifeline_');
    metrics().register(registry);
    expect(await registry.metrics()).toContain('# TYPE lifeline_ack_latency_seconds histogram');
  });
});
