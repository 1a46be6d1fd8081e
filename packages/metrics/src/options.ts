/** Options of `metrics()`, their defaults, and their validation. */
export interface MetricsOptions {
  /**
   * Make snapshots cover roughly the last `windowMs` instead of everything since start (or
   * `reset()`). Histograms only: counters stay cumulative. Exports stay cumulative too.
   * @default undefined (since start)
   */
  windowMs?: number;
  /**
   * Interval histograms in the window ring; a snapshot covers between (windowSlots − 1) and
   * windowSlots intervals of `windowMs / windowSlots`.
   * @default 5
   */
  windowSlots?: number;
  /**
   * Monotonic clock in milliseconds, for window rotation and `sinceMs`. Read only when a window
   * is set (per record) and on snapshots.
   * @default performance.now
   */
  now?: () => number;
  /**
   * Sessions tracked per side for per-session figures, least recently active dropped first.
   * 0 turns per-session figures off (server delivery latency is then not clock-corrected).
   * @default 1000
   */
  maxSessions?: number;
  /**
   * Precision of the per-session histograms (2 digits: ±1 %, a few KB each; the totals keep 3).
   * @default 2
   */
  sessionSignificantDigits?: 1 | 2 | 3;
  /**
   * Heartbeat samples among which the lowest-RTT one gives the clock offset.
   * @default 8
   */
  clockSamples?: number;
  /**
   * Upper bounds (ms) of the fixed buckets exported for the latency histograms.
   * @default metricsDefaults.latencyBucketsMs
   */
  latencyBucketsMs?: readonly number[];
  /**
   * Upper bounds (ms) of the fixed buckets exported for reconnect downtime.
   * @default metricsDefaults.downtimeBucketsMs
   */
  downtimeBucketsMs?: readonly number[];
  /**
   * A delivery whose clock-corrected latency is further than this from 0 (either way), or whose
   * `msg.ts` is not a positive number, and a heartbeat sample whose clock offset is larger than
   * this, are not recorded: a peer can write any timestamp (`ts: 0` once moved a mean to
   * 8.9e9 ms). They are counted in `implausible` instead. Raise it if messages legitimately
   * wait longer (a durable outbox restored after a long offline spell counts from its first
   * transmission). @default 3_600_000 (1 hour)
   */
  maxPlausibleMs?: number;
}

export const metricsDefaults = Object.freeze({
  windowSlots: 5,
  maxSessions: 1000,
  sessionSignificantDigits: 2 as const,
  clockSamples: 8,
  latencyBucketsMs: Object.freeze([0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000]),
  downtimeBucketsMs: Object.freeze([
    50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 120_000, 300_000,
  ]),
  maxPlausibleMs: 3_600_000,
});

export interface ResolvedOptions {
  readonly windowMs: number | undefined;
  readonly windowSlots: number;
  readonly now: () => number;
  readonly maxSessions: number;
  readonly sessionSignificantDigits: 1 | 2 | 3;
  readonly clockSamples: number;
  readonly latencyBucketsMs: readonly number[];
  readonly downtimeBucketsMs: readonly number[];
  readonly maxPlausibleMs: number;
}

const defaultNow = (): number => performance.now();

export function resolveOptions(options: MetricsOptions = {}): ResolvedOptions {
  const windowMs = options.windowMs;
  if (windowMs !== undefined && !(Number.isFinite(windowMs) && windowMs > 0)) {
    throw new TypeError(`metrics: windowMs must be a positive number of milliseconds, got ${String(windowMs)}`);
  }
  const windowSlots = integer('windowSlots', options.windowSlots ?? metricsDefaults.windowSlots, 1);
  const maxSessions = integer('maxSessions', options.maxSessions ?? metricsDefaults.maxSessions, 0);
  const clockSamples = integer('clockSamples', options.clockSamples ?? metricsDefaults.clockSamples, 1);
  const digits = options.sessionSignificantDigits ?? metricsDefaults.sessionSignificantDigits;
  if (digits !== 1 && digits !== 2 && digits !== 3) {
    throw new TypeError(`metrics: sessionSignificantDigits must be 1, 2 or 3, got ${String(digits)}`);
  }
  if (options.now !== undefined && typeof options.now !== 'function') {
    throw new TypeError('metrics: now must be a function returning milliseconds');
  }
  return {
    windowMs,
    windowSlots: windowMs === undefined ? 1 : windowSlots,
    now: options.now ?? defaultNow,
    maxSessions,
    sessionSignificantDigits: digits,
    clockSamples,
    latencyBucketsMs: bounds('latencyBucketsMs', options.latencyBucketsMs ?? metricsDefaults.latencyBucketsMs),
    downtimeBucketsMs: bounds('downtimeBucketsMs', options.downtimeBucketsMs ?? metricsDefaults.downtimeBucketsMs),
    maxPlausibleMs: positive('maxPlausibleMs', options.maxPlausibleMs ?? metricsDefaults.maxPlausibleMs),
  };
}

function integer(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new TypeError(`metrics: ${name} must be an integer ≥ ${min}, got ${String(value)}`);
  }
  return value;
}

function positive(name: string, value: number): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0) {
    throw new TypeError(`metrics: ${name} must be a number > 0 (or Infinity), got ${String(value)}`);
  }
  return value;
}

function bounds(name: string, value: readonly number[]): readonly number[] {
  const ok =
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((v, i) => Number.isFinite(v) && v > 0 && (i === 0 || v > (value[i - 1] as number)));
  if (!ok) throw new TypeError(`metrics: ${name} must be a non-empty, strictly increasing list of positive numbers`);
  return Object.freeze([...value]);
}
