/**
 * Reconnect delays: exponential backoff with "full jitter", from Marc Brooker, "Exponential
 * Backoff And Jitter", AWS Architecture Blog, 2015
 * (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/):
 *
 *     sleep = random_between(0, min(cap, base * 2 ** attempt))
 *
 * Spreading retries over the whole window is what keeps a fleet of clients from reconnecting in
 * lockstep after a server restart (the reconnect storm of DESIGN.md). centrifuge-js uses the
 * same formula.
 */
export interface BackoffOptions {
  /** `base`: the ceiling of the first delay, ms. */
  readonly minDelayMs: number;
  /** `cap`: no delay is longer, ms. */
  readonly maxDelayMs: number;
  /** Uniform in [0, 1). @default Math.random */
  readonly random: () => number;
}

/**
 * Computes the delay before a reconnect attempt. `attempt` counts delays already taken in the
 * current streak of failures, from 0.
 */
export type BackoffFunction = (attempt: number, options: BackoffOptions) => number;

/** Full-jitter backoff: a uniform delay in `[0, min(maxDelayMs, minDelayMs · 2^attempt)]`, in whole ms. */
export const fullJitterBackoff: BackoffFunction = (attempt, { minDelayMs, maxDelayMs, random }) => {
  // 2 ** 1100 is Infinity and min() caps it, so no overflow guard is needed.
  const ceiling = Math.min(maxDelayMs, minDelayMs * 2 ** Math.max(0, attempt));
  return Math.min(ceiling, Math.floor(random() * (ceiling + 1)));
};
