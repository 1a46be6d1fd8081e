import {
  createNoopMeter,
  type BatchObservableCallback,
  type BatchObservableResult,
  type Meter,
  type MetricAttributes,
  type MetricOptions,
  type Observable,
} from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { metrics, SIDE_ATTRIBUTE } from '../src/index.js';
import { ack, client, server } from './helpers.js';

interface Recorded {
  readonly instrument: string;
  readonly value: number;
  readonly attributes: MetricAttributes | undefined;
}

/** A Meter that remembers the instruments made, the values recorded, and the batch callbacks. */
function fakeMeter() {
  const created: { kind: string; name: string; options: MetricOptions | undefined }[] = [];
  const recorded: Recorded[] = [];
  const callbacks = new Set<BatchObservableCallback>();
  const noop = createNoopMeter();
  const meter: Meter = {
    ...noop,
    createHistogram(name, options) {
      created.push({ kind: 'histogram', name, options });
      return { record: (value, attributes) => void recorded.push({ instrument: name, value, attributes }) };
    },
    createObservableCounter(name, options) {
      created.push({ kind: 'observableCounter', name, options });
      // The no-op meter hands out one shared instrument; ours must be told apart by name.
      return { name, addCallback() {}, removeCallback() {} };
    },
    addBatchObservableCallback(callback) {
      callbacks.add(callback);
    },
    removeBatchObservableCallback(callback) {
      callbacks.delete(callback);
    },
  };
  /** Runs the batch callbacks as an SDK collection would: instrument name → observations. */
  async function collect(): Promise<Map<string, { value: number; attributes: MetricAttributes | undefined }[]>> {
    const out = new Map<string, { value: number; attributes: MetricAttributes | undefined }[]>();
    const result: BatchObservableResult = {
      observe(metric: Observable, value: number, attributes?: MetricAttributes) {
        const name = (metric as Observable & { name: string }).name;
        out.set(name, [...(out.get(name) ?? []), { value, attributes }]);
      },
    };
    for (const cb of callbacks) await cb(result);
    return out;
  }
  return { meter, created, recorded, callbacks, collect };
}

describe('otel(meter)', () => {
  it('creates histograms in seconds with bucket advice, and observable counters', () => {
    const fake = fakeMeter();
    metrics().otel(fake.meter);
    const ackHistogram = fake.created.find((c) => c.name === 'lifeline.ack.latency');
    expect(ackHistogram?.kind).toBe('histogram');
    expect(ackHistogram?.options?.unit).toBe('s');
    expect(ackHistogram?.options?.advice?.explicitBucketBoundaries?.slice(0, 3)).toEqual([0.00025, 0.0005, 0.001]);
    expect(fake.created.filter((c) => c.kind === 'histogram')).toHaveLength(5);
    expect(fake.created.find((c) => c.name === 'lifeline.messages.sent')?.kind).toBe('observableCounter');
    expect(fake.callbacks.size).toBe(1);
  });

  it('records latencies as they happen, with the side as an attribute', () => {
    const fake = fakeMeter();
    const m = metrics();
    m.otel(fake.meter);
    m.onAck(ack(12, 2), client);
    m.onResume({ resumed: true, replayed: 0, downtimeMs: 2_000, at: 0 }, server('s'));
    expect(fake.recorded).toEqual([
      { instrument: 'lifeline.ack.latency', value: 0.012, attributes: { [SIDE_ATTRIBUTE]: 'client' } },
      { instrument: 'lifeline.wire.latency', value: 0.01, attributes: { [SIDE_ATTRIBUTE]: 'client' } },
      { instrument: 'lifeline.reconnect.downtime', value: 2, attributes: { [SIDE_ATTRIBUTE]: 'server' } },
    ]);
  });

  it('reports cumulative counters at collection time, keyed counters with their key', async () => {
    const fake = fakeMeter();
    const m = metrics();
    m.otel(fake.meter);
    m.onSend({ id: 'a', bytes: 1, at: 0 }, client);
    m.onSend({ id: 'b', bytes: 1, at: 0 }, client);
    m.onFail({ id: 'a', code: 'ERR_ACK_TIMEOUT', maybeDelivered: true, at: 0 }, client);
    m.onSend({ id: 'c', bytes: 1, at: 0 }, server('s'));
    const seen = await fake.collect();
    expect(seen.get('lifeline.messages.sent')).toEqual([
      { value: 2, attributes: { [SIDE_ATTRIBUTE]: 'client' } },
      { value: 1, attributes: { [SIDE_ATTRIBUTE]: 'server' } },
    ]);
    expect(seen.get('lifeline.messages.failed')).toEqual([
      { value: 1, attributes: { [SIDE_ATTRIBUTE]: 'client', 'lifeline.code': 'ERR_ACK_TIMEOUT' } },
    ]);
  });

  it('stops recording and observing when the returned function is called', async () => {
    const fake = fakeMeter();
    const m = metrics();
    const stop = m.otel(fake.meter);
    stop();
    stop();
    m.onAck(ack(1), client);
    expect(fake.recorded).toEqual([]);
    expect(fake.callbacks.size).toBe(0);
  });

  it("accepts @opentelemetry/api's no-op meter", () => {
    const m = metrics();
    m.otel(createNoopMeter());
    expect(() => m.onAck(ack(1), client)).not.toThrow();
    expect(m.snapshot().ackLatency.count).toBe(1);
  });
});
