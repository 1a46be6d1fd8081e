import type { LifelinePlugin } from '@lifeline/protocol';
import { PluginHost } from '@lifeline/protocol/internal';
import type { Meter } from '@opentelemetry/api';
import { Registry } from 'prom-client';
import { describe, expect, expectTypeOf, it } from 'vitest';
import * as api from '../src/index.js';
import { metrics, type MetricsSnapshot, type SessionSnapshot } from '../src/index.js';
import { ack, client } from './helpers.js';

describe('public API', () => {
  it('exports exactly metrics, metricsDefaults and SIDE_ATTRIBUTE at runtime', () => {
    expect(Object.keys(api).sort()).toEqual(['SIDE_ATTRIBUTE', 'metrics', 'metricsDefaults']);
  });

  it('is a LifelinePlugin that PluginHost can drive', () => {
    const m = metrics();
    expectTypeOf(m).toMatchTypeOf<LifelinePlugin>();
    const host = new PluginHost([m], (error) => {
      throw error;
    });
    host.onAck(ack(3), client);
    host.onSend({ id: 'a', bytes: 1, at: 0 }, client);
    expect(m.name).toBe('metrics');
    expect(m.snapshot()).toMatchObject({ sent: 1, acked: 1, ackLatency: { count: 1 } });
  });

  it('types snapshots, sessions and the export hooks', () => {
    const m = metrics();
    expectTypeOf(m.snapshot()).toEqualTypeOf<MetricsSnapshot>();
    expectTypeOf(m.snapshot({ side: 'server' })).toEqualTypeOf<MetricsSnapshot>();
    expectTypeOf(m.snapshot({ sessionId: 'x' })).toEqualTypeOf<MetricsSnapshot | undefined>();
    expectTypeOf(m.sessions()).toEqualTypeOf<SessionSnapshot[]>();
    expectTypeOf(m.snapshot().ackLatency.p99).toBeNumber();
    expectTypeOf(m.prometheus()).resolves.toBeString();
    expectTypeOf(m.register).parameter(0).toMatchTypeOf<Pick<Registry, 'registerMetric'>>();
    expectTypeOf(new Registry()).toMatchTypeOf<Parameters<typeof m.register>[0]>();
    expectTypeOf(m.otel).parameter(0).toEqualTypeOf<Meter>();
  });
});
