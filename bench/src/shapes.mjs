/**
 * The load shapes of issue 14, each run the same way for every peer so that it can be given as a
 * ratio to raw ws in the same run:
 * - `remote` (client and server in two processes): `n` messages with `window` outstanding (a
 *   refill of one per ack, as `pipelined` does), then the same `n` fired all at once, twice in a
 *   row (the first burst, and one after it), each with the server's CPU time over the phase;
 *   then sequential round trips.
 * - `local` (the peer's `serve()` in the client's own process): the same, with that one
 *   process's CPU time (client and server together).
 * The windowed and all-at-once phases swap order every run, so neither always runs warmer.
 */
import { burst, latencies, pipelined, sequential } from './measure.mjs';

/** Warms every path the measured phases take, with the counts of `params`. */
async function warm(peer, params) {
  await pipelined(peer, params.warmup, params.window, params.phaseMs);
  await burst(peer, Math.min(params.warmup, params.window), params.phaseMs);
  await sequential(peer, params.latencyWarmup, params.phaseMs);
}

/** `p50`, `p99`, `p999` of sequential round trips once settled, and right after a full GC (`latencies`). */
async function latency(peer, params) {
  const { latency: l, afterGc } = await latencies(peer, params);
  return { latency: { p50: l.p50, p99: l.p99, p999: l.p999, mean: l.mean }, afterGc };
}

/**
 * Runs the windowed and the all-at-once phase of `n` messages, in the order of `params.run`.
 * `serverCpuUs()` reads the server's CPU time in µs (`undefined` when it cannot be read).
 */
async function throughputShapes(peer, n, params, serverCpuUs, { again = false } = {}) {
  const phases = {
    windowed: () => pipelined(peer, n, params.window, params.phaseMs),
    burst: () => burst(peer, n, params.phaseMs),
    burstAgain: () => burst(peer, n, params.phaseMs),
  };
  // `burstAgain`: the same burst once more, at once after the first. The first burst of `n` in a
  // process finds a heap sized for the warm-up's 1,000; a peer that keeps something per pending
  // send grows it then (issue 14), so both figures are kept: the first, and one with that paid.
  const bursts = again ? ['burst', 'burstAgain'] : ['burst'];
  const order = (params.run ?? 1) % 2 ? ['windowed', ...bursts] : [...bursts, 'windowed'];
  const out = {};
  for (const name of order) {
    const before = await serverCpuUs();
    const t = await phases[name]();
    const after = await serverCpuUs();
    out[name] = {
      n,
      ms: t.ms,
      perSecond: t.perSecond,
      cpuUsPerMsg: t.cpuUsPerMsg,
      serverCpuUsPerMsg: before === undefined || after === undefined ? undefined : (after - before) / n,
    };
  }
  out.burstOverWindowed = out.burst.perSecond / out.windowed.perSecond;
  if (again) out.burstAgainOverWindowed = out.burstAgain.perSecond / out.windowed.perSecond;
  return out;
}

/** Two processes: `peer` talks to a server in another process (or to Mosquitto). */
export async function remoteShapes(peer, params, serverCpuUs) {
  await warm(peer, params);
  const shapes = await throughputShapes(peer, params.burstRemote, params, serverCpuUs, { again: true });
  return { ...shapes, ...(await latency(peer, params)) };
}

/** One process: `peer` talks to a server this process serves; CPU is both sides'. */
export async function localShapes(peer, params) {
  await warm(peer, params);
  const shapes = await throughputShapes(peer, params.burstLocal, params, async () => undefined);
  return { ...shapes, ...(await latency(peer, params)) };
}
