/**
 * @lifeline/metrics — the observability plugin: HDR latency histograms, counters, a JSON snapshot,
 * Prometheus and OpenTelemetry export. prom-client and @opentelemetry/api are optional peers,
 * referenced here as types only: importing this module never loads them.
 *
 * @module @lifeline/metrics
 */
export { metrics } from './plugin.js';
export type { Metrics, SnapshotOptions } from './plugin.js';
export { metricsDefaults } from './options.js';
export type { MetricsOptions } from './options.js';
export type { MetricsSnapshot, SessionSnapshot } from './snapshot.js';
export type { LatencySummary } from './histogram.js';
export type { CounterValues } from './counters.js';
export type { ClockOffsetEstimate } from './clock-offset.js';
export type { PromRegistry } from './prometheus.js';
export { SIDE_ATTRIBUTE } from './otel.js';
