import type { Side } from '@lifeline/protocol';
import type { JsHistogram } from 'hdr-histogram-js';
import type { Metric, Registry } from 'prom-client';
import { counterDefs } from './counters.js';
import { cumulativeCounts, Extent } from './histogram.js';
import { histogramDefs, type Scope } from './scope.js';

/**
 * Prometheus export. The latency figures go out as fixed-bucket *histograms* (not summaries):
 * bucket counters can be summed across instances and then turned into quantiles with
 * `histogram_quantile()`, while precomputed summary quantiles cannot be aggregated at all. The
 * buckets are filled from the HDR data at scrape time, so recording stays one HDR increment.
 * Everything exported is cumulative since start (or `reset()`), as Prometheus counters must be.
 *
 * One data model (`Family`) feeds both `prometheus()` (our own text formatter, so the package
 * serves /metrics without prom-client) and `register(registry)` (collectors for prom-client).
 */

export interface Sample {
  /** Appended to the family name: '', '_bucket', '_sum', '_count'. */
  readonly suffix: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram';
  /** Computes the family's samples now. */
  collect(): Sample[];
}

export interface ExportSource {
  /** The sides seen so far, with their since-start scopes. */
  sides(): ReadonlyArray<readonly [Side, Scope]>;
  /** The current window slot number. */
  slot(): number;
  readonly scratch: JsHistogram;
  readonly latencyBucketsMs: readonly number[];
  readonly downtimeBucketsMs: readonly number[];
}

export function families(src: ExportSource): Family[] {
  const out: Family[] = [];
  histogramDefs.forEach((def, kind) => {
    const boundsMs = def.buckets === 'latency' ? src.latencyBucketsMs : src.downtimeBucketsMs;
    const boundsUs = boundsMs.map((ms) => Math.round(ms * 1000));
    const le = boundsMs.map((ms) => String(ms / 1000));
    out.push({
      name: def.prom,
      help: def.help,
      type: 'histogram',
      collect() {
        const samples: Sample[] = [];
        const extent = new Extent();
        for (const [side, scope] of src.sides()) {
          src.scratch.reset();
          extent.reset();
          (scope.hist[kind] as Scope['hist'][number]).addCumulativeTo(src.scratch, extent, src.slot());
          const counts = cumulativeCounts(src.scratch, boundsUs);
          const total = src.scratch.totalCount;
          counts.forEach((value, i) => samples.push({ suffix: '_bucket', labels: { side, le: le[i] as string }, value }));
          samples.push({ suffix: '_bucket', labels: { side, le: '+Inf' }, value: total });
          samples.push({ suffix: '_sum', labels: { side }, value: extent.sumUs / 1e6 });
          samples.push({ suffix: '_count', labels: { side }, value: total });
        }
        return samples;
      },
    });
  });
  for (const def of counterDefs) {
    out.push({
      name: def.prom,
      help: def.help,
      type: 'counter',
      collect() {
        const samples: Sample[] = [];
        for (const [side, scope] of src.sides()) {
          const value = scope.counters[def.key];
          if (typeof value === 'number') {
            samples.push({ suffix: '', labels: { side }, value });
          } else {
            for (const [key, n] of value) samples.push({ suffix: '', labels: { side, [def.label ?? 'key']: key }, value: n });
          }
        }
        return samples;
      },
    });
  }
  return out;
}

/** The Prometheus text exposition format, version 0.0.4. */
export function formatExposition(list: readonly Family[]): string {
  const lines: string[] = [];
  for (const family of list) {
    lines.push(`# HELP ${family.name} ${family.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const s of family.collect()) lines.push(`${family.name}${s.suffix}${formatLabels(s.labels)} ${formatValue(s.value)}`);
  }
  return `${lines.join('\n')}\n`;
}

function formatLabels(labels: Readonly<Record<string, string>>): string {
  const parts = Object.entries(labels).map(
    ([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`,
  );
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

/** The part of a prom-client `Registry` we use (any content type). */
export type PromRegistry = Pick<Registry, 'registerMetric' | 'getSingleMetric' | 'removeSingleMetric'>;

/**
 * Registers one collector per family on a prom-client registry; returns a function removing them.
 *
 * prom-client has no public way to hand it precomputed bucket counts, but its registry asks each
 * metric only for `name` and `await get()` (the documented `MetricObjectWithValues` shape). So the
 * collectors are plain objects of that shape — prom-client itself is never imported at runtime.
 */
export function registerFamilies(registry: PromRegistry, list: readonly Family[]): () => void {
  const collectors = list.map((family) => {
    const collector = {
      // An OpenMetrics registry renames counters (drops `_total`, re-adds it per line): read it back.
      name: family.name,
      help: family.help,
      type: family.type,
      aggregator: 'sum' as const,
      get: async () => ({
        name: collector.name,
        help: family.help,
        type: family.type,
        aggregator: 'sum' as const,
        values: family.collect().map((s) =>
          s.suffix === ''
            ? { labels: s.labels, value: s.value }
            : { metricName: `${collector.name}${s.suffix}`, labels: s.labels, value: s.value },
        ),
      }),
      reset: () => {},
    };
    return collector;
  });
  for (const collector of collectors) {
    // The cast is the duck typing described above: `Metric` is a union of prom-client's classes.
    registry.registerMetric(collector as unknown as Metric);
  }
  return () => {
    for (const collector of collectors) {
      if ((registry.getSingleMetric(collector.name) as unknown) === collector) registry.removeSingleMetric(collector.name);
    }
  };
}
