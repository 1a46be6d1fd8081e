import type { Side } from '@lifeline/protocol';
import type {
  Attributes,
  BatchObservableCallback,
  Histogram,
  Meter,
  Observable,
  ObservableCounter,
} from '@opentelemetry/api';
import { counterDefs, type Counters } from './counters.js';
import { histogramDefs, type HistogramKind } from './scope.js';

/**
 * OpenTelemetry export through a `Meter` the caller passes in (so `@opentelemetry/api` is only
 * a type here). Latencies go to synchronous Histogram instruments as they happen, in seconds
 * (the OpenTelemetry convention for durations), with our bucket bounds as advice; the SDK does
 * the aggregation, so `windowMs` and `reset()` do not apply to them. Counters are Observable
 * Counters read from our own cumulative counters at collection time: no cost per event.
 */

/** The attribute that tells the two sides apart (`side` in Prometheus). */
export const SIDE_ATTRIBUTE = 'lifeline.side';

export interface OtelBuckets {
  readonly latencyBucketsMs: readonly number[];
  readonly downtimeBucketsMs: readonly number[];
}

export class OtelSink {
  private readonly histograms: Histogram[];
  // One attributes object per side, made once: recording allocates nothing.
  private readonly clientAttrs: Attributes = Object.freeze({ [SIDE_ATTRIBUTE]: 'client' });
  private readonly serverAttrs: Attributes = Object.freeze({ [SIDE_ATTRIBUTE]: 'server' });
  private readonly observables: ObservableCounter[];
  private readonly callback: BatchObservableCallback;

  constructor(
    private readonly meter: Meter,
    sides: () => ReadonlyArray<readonly [Side, Counters]>,
    buckets: OtelBuckets,
  ) {
    this.histograms = histogramDefs.map((def) =>
      meter.createHistogram(def.otel, {
        description: def.help,
        unit: 's',
        advice: {
          explicitBucketBoundaries: (def.buckets === 'latency' ? buckets.latencyBucketsMs : buckets.downtimeBucketsMs).map(
            (ms) => ms / 1000,
          ),
        },
      }),
    );
    this.observables = counterDefs.map((def) =>
      meter.createObservableCounter(def.otel, { description: def.help, unit: def.unit }),
    );
    this.callback = (result) => {
      for (const [side, counters] of sides()) {
        counterDefs.forEach((def, i) => {
          const instrument = this.observables[i] as Observable;
          const value = counters[def.key];
          if (typeof value === 'number') {
            result.observe(instrument, value, side === 'client' ? this.clientAttrs : this.serverAttrs);
          } else {
            for (const [key, n] of value) {
              result.observe(instrument, n, { [SIDE_ATTRIBUTE]: side, [`lifeline.${def.label ?? 'key'}`]: key });
            }
          }
        });
      }
    };
    meter.addBatchObservableCallback(this.callback, this.observables);
  }

  /** Records `us` microseconds as seconds. */
  record(kind: HistogramKind, us: number, side: Side): void {
    (this.histograms[kind] as Histogram).record(us / 1e6, side === 'client' ? this.clientAttrs : this.serverAttrs);
  }

  /** Stops reporting counters (histogram instruments cannot be removed; they stop receiving). */
  stop(): void {
    this.meter.removeBatchObservableCallback(this.callback, this.observables);
  }
}
