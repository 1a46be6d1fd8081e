import type { Side } from '@lifeline/protocol';
import type { JsHistogram } from 'hdr-histogram-js';
import type { ClockOffsetEstimate } from './clock-offset.js';
import { Counters, type CounterValues } from './counters.js';
import { Extent, summarize, type LatencySummary } from './histogram.js';
import { histogramDefs, type HistogramKey, type Scope } from './scope.js';

/** The JSON a snapshot returns: plain data, safe to `JSON.stringify`. */
export interface MetricsSnapshot extends CounterValues, Readonly<Record<HistogramKey, LatencySummary>> {
  /** Wall clock (ms since the epoch) when the snapshot was taken. */
  readonly takenAt: number;
  /** How many ms of history the histograms cover (since start, reset, or the window's start). */
  readonly sinceMs: number;
  /** The window the histograms are limited to, or null when they cover everything since start. */
  readonly windowMs: number | null;
  /** The peer clock − local clock estimate used for deliveryLatency, when there is one. */
  readonly clockOffset: ClockOffsetEstimate | null;
}

/** One session's figures (lifetime of the session in this plugin; never windowed). */
export interface SessionSnapshot extends MetricsSnapshot {
  readonly sessionId: string;
  readonly side: Side;
}

/** A scope as one snapshot reads it. */
export interface ScopeView {
  readonly scope: Scope;
  /** Its current slot number (0 for a scope that is not windowed). */
  readonly slot: number;
}

export interface SnapshotInput {
  readonly views: readonly ScopeView[];
  readonly scratch: JsHistogram;
  readonly sinceMs: number;
  /** null: everything since start, also from a scope that is windowed (a client's sole session). */
  readonly windowMs: number | null;
  readonly clockOffset: ClockOffsetEstimate | null;
}

/** Merges the scopes (the two sides, or a session's two sides) into one snapshot. */
export function buildSnapshot(input: SnapshotInput): MetricsSnapshot {
  const { views, scratch } = input;
  const histograms = {} as Record<HistogramKey, LatencySummary>;
  const extent = new Extent();
  histogramDefs.forEach((def, kind) => {
    scratch.reset();
    extent.reset();
    for (const { scope, slot } of views) {
      const h = scope.hist[kind] as Scope['hist'][number];
      if (input.windowMs === null) h.addCumulativeTo(scratch, extent, slot);
      else h.addWindowTo(scratch, extent, slot);
    }
    histograms[def.key] = summarize(scratch, extent);
  });
  let counters: Counters;
  if (views.length === 1) {
    counters = (views[0] as ScopeView).scope.counters;
  } else {
    counters = new Counters();
    for (const { scope } of views) counters.add(scope.counters);
  }
  return {
    takenAt: Date.now(),
    sinceMs: Math.max(0, input.sinceMs),
    windowMs: input.windowMs,
    ...histograms,
    ...counters.toJSON(),
    clockOffset: input.clockOffset,
  };
}
