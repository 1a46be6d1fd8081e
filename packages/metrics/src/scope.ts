import { ClockOffset } from './clock-offset.js';
import { Counters } from './counters.js';
import type { SignificantDigits } from './histogram.js';
import { WindowedHistogram } from './window.js';

/**
 * Everything recorded for one scope — one side of the plugin (all its sessions), or one session:
 * a histogram per figure, the counters, and the clock-offset estimate for the peer.
 */

/** The histograms, by index; the order is the `histogramDefs` order. */
export const ACK = 0;
export const WIRE = 1;
export const QUEUE = 2;
export const DELIVERY = 3;
export const DOWNTIME = 4;
export type HistogramKind = typeof ACK | typeof WIRE | typeof QUEUE | typeof DELIVERY | typeof DOWNTIME;

export type HistogramKey = 'ackLatency' | 'wireLatency' | 'queueWait' | 'deliveryLatency' | 'reconnectDowntime';

export interface HistogramDef {
  readonly key: HistogramKey;
  /** Prometheus base name (seconds). */
  readonly prom: string;
  /** OpenTelemetry instrument name (seconds). */
  readonly otel: string;
  readonly help: string;
  readonly buckets: 'latency' | 'downtime';
}

export const histogramDefs: readonly HistogramDef[] = [
  {
    key: 'ackLatency',
    prom: 'lifeline_ack_latency_seconds',
    otel: 'lifeline.ack.latency',
    help: 'Time from send() to the ack, queueing included.',
    buckets: 'latency',
  },
  {
    key: 'wireLatency',
    prom: 'lifeline_wire_latency_seconds',
    otel: 'lifeline.wire.latency',
    help: "Time from a message's first transmission to its ack, queueing excluded.",
    buckets: 'latency',
  },
  {
    key: 'queueWait',
    prom: 'lifeline_queue_wait_seconds',
    otel: 'lifeline.queue.wait',
    help: 'Time from send() to the first transmission.',
    buckets: 'latency',
  },
  {
    key: 'deliveryLatency',
    prom: 'lifeline_delivery_latency_seconds',
    otel: 'lifeline.delivery.latency',
    help: "Time from the sender's first transmission to delivery to the application, corrected by the estimated clock offset.",
    buckets: 'latency',
  },
  {
    key: 'reconnectDowntime',
    prom: 'lifeline_reconnect_downtime_seconds',
    otel: 'lifeline.reconnect.downtime',
    help: 'Time from losing a connection to the next completed handshake.',
    buckets: 'downtime',
  },
];

export interface ScopeConfig {
  readonly digits: SignificantDigits;
  /** Interval histograms per figure (1: since start). */
  readonly slots: number;
  /** Keep a since-start view beside the window (for counter-style exports). */
  readonly cumulative: boolean;
  readonly clockSamples: number;
}

export class Scope {
  readonly hist: readonly WindowedHistogram[];
  readonly counters = new Counters();
  readonly clock: ClockOffset;
  /** The session id for a session scope, '' for a side scope. */
  id = '';
  /** When this scope started counting (the `now` clock). */
  startedAt: number;

  constructor(config: ScopeConfig, startedAt: number) {
    this.hist = histogramDefs.map(() => new WindowedHistogram(config.digits, config.slots, config.cumulative));
    this.clock = new ClockOffset(config.clockSamples);
    this.startedAt = startedAt;
  }

  /** Takes in everything `other` recorded since start (`otherSlot`: its current window slot). */
  absorb(other: Scope, otherSlot: number): void {
    this.hist.forEach((h, kind) => h.absorb(other.hist[kind] as WindowedHistogram, otherSlot));
    this.counters.add(other.counters);
    this.clock.copyFrom(other.clock);
  }

  reset(startedAt: number): void {
    for (const h of this.hist) h.reset();
    this.counters.reset();
    this.clock.reset();
    this.startedAt = startedAt;
  }
}
