/**
 * Where the sequential tail comes from (issue 14): Lifeline and raw ws, server and client in this
 * one process, one round trip at a time for `--seconds` each (long enough to cross a 15 s
 * heartbeat interval). Every round trip's start and latency is kept; V8's GC pauses are taken
 * from a PerformanceObserver ('gc' entries, their kind and duration). A round trip above the
 * peer's p99 is put down to a GC pause that overlaps it (by kind), else to the process being
 * taken off the CPU during it (involuntary context switches, getrusage, read before and after
 * each round trip for both peers alike), else to nothing seen. The
 * heartbeat is not a candidate by arithmetic: one ping and one pong per 15 s touch at most two
 * of the ~100,000 round trips in that time, and p99 is the slowest 1,000. Peers alternate in
 * `--rounds` rounds, so neither always runs on a warmer machine.
 * Options: --seconds 20 --rounds 2 --out FILE.
 */
import { writeFileSync } from 'node:fs';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { withDeadline } from './deadline.mjs';
import * as rawWs from './peers/raw-ws.mjs';
import * as lifeline from './peers/lifeline.mjs';

const peers = { ws: rawWs, lifeline };

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const SECONDS = Number(arg('seconds', 20));
const ROUNDS = Number(arg('rounds', 2));
/** At most this many round trips a phase, so the kept arrays stay bounded whatever the machine. */
const MAX_TRIPS = 2_000_000;

const gcKinds = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/** GC pauses seen while `run` lasts: `{ start, end, kind }` in performance.now() ms. */
async function withGcLog(run) {
  const pauses = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) pauses.push({ start: e.startTime, end: e.startTime + e.duration, kind: gcKinds[e.detail?.kind ?? e.kind] ?? 'other' });
  });
  observer.observe({ entryTypes: ['gc'] });
  try {
    const out = await run();
    // Entries are delivered asynchronously: let the last ones in.
    await new Promise((resolve) => setTimeout(resolve, 50));
    return { out, pauses };
  } finally {
    observer.disconnect();
  }
}

/** One round trip at a time for `ms`: starts (ms) and latencies (µs) of each. */
function sequentialFor(peer, ms) {
  const starts = new Float64Array(MAX_TRIPS);
  const lat = new Float64Array(MAX_TRIPS);
  /** 1 when the process was switched off the CPU involuntarily during the round trip. */
  const switched = new Uint8Array(MAX_TRIPS);
  let n = 0;
  let cs = 0;
  const end = performance.now() + ms;
  const run = new Promise((resolve, reject) => {
    let t0 = 0;
    peer.onError = reject;
    peer.onAck = () => {
      const now = performance.now();
      const after = process.resourceUsage().involuntaryContextSwitches;
      starts[n] = t0;
      lat[n] = (now - t0) * 1000;
      switched[n] = after > cs ? 1 : 0;
      if (++n >= MAX_TRIPS || now >= end) return resolve();
      cs = process.resourceUsage().involuntaryContextSwitches;
      t0 = performance.now();
      peer.fire();
    };
    cs = process.resourceUsage().involuntaryContextSwitches;
    t0 = performance.now();
    peer.fire();
  });
  return withDeadline(run, ms + 30_000, `sequential for ${ms} ms`).then(() => ({ starts: starts.subarray(0, n), lat: lat.subarray(0, n), switched: switched.subarray(0, n), n }));
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/** Periods (in round trips) searched for a cost that comes back every so many messages. */
const PERIODS = [64, 128, 256, 512, 1024, 2048, 4096];

/**
 * A cost paid once every P messages (a pool refill, a batched bookkeeping step) hides below p99
 * when P is large, but its round trips share one residue of their index modulo P. For each P, the
 * residue whose lower quartile is highest: the smallest P where that is 1.5 times the phase's
 * median is reported (issue 14 found the message-id pool's refill this way, every 128th round
 * trip about 60 µs slower), or the worst one seen when none is. The quartile, not the median: at
 * P/2 half of a residue's round trips pay the cost, and a median of an even count can land on them.
 */
function periodic(lat, n, p50) {
  let worst;
  for (const period of PERIODS) {
    if (n / period < 20) break;
    const byResidue = Array.from({ length: period }, () => []);
    for (let i = 0; i < n; i++) byResidue[i % period].push(lat[i]);
    for (let r = 0; r < period; r++) {
      const sorted = Float64Array.from(byResidue[r]).sort();
      const p25 = pct(sorted, 25);
      const found = { period, residue: r, p25: Math.round(p25), p50: Math.round(pct(sorted, 50)), ratio: Number((p25 / p50).toFixed(2)), trips: sorted.length };
      if (worst === undefined || found.ratio > worst.ratio) worst = found;
    }
    if (worst.ratio >= 1.5) break;
  }
  return worst;
}

/** The tail of one phase: percentiles, and each round trip above p99 put down to a cause. */
function attribute({ starts, lat, switched, n }, pauses) {
  const sorted = Float64Array.from(lat).sort();
  const p99 = pct(sorted, 99);
  const causes = { minor: 0, major: 0, incremental: 0, weakcb: 0, other: 0, descheduled: 0, none: 0 };
  let switchedAll = 0;
  for (let i = 0; i < n; i++) switchedAll += switched[i];
  /** Tail round trips per second of the phase: a periodic cause (a timer) shows as a spike. */
  const perSecond = new Array(Math.ceil((starts[n - 1] - starts[0]) / 1000) + 1).fill(0);
  let tail = 0;
  let g = 0;
  for (let i = 0; i < n; i++) {
    if (lat[i] <= p99) continue;
    tail++;
    const s = starts[i];
    const e = s + lat[i] / 1000;
    perSecond[Math.floor((s - starts[0]) / 1000)]++;
    while (g < pauses.length && pauses[g].end < s) g++;
    let pause;
    for (let k = g; k < pauses.length && pauses[k].start <= e; k++) if (pauses[k].end >= s) pause ??= pauses[k];
    if (pause !== undefined) causes[pause.kind]++;
    else if (switched[i] === 1) causes.descheduled++;
    else causes.none++;
  }
  const gcMs = pauses.reduce((sum, p) => sum + (p.end - p.start), 0);
  return {
    n,
    p50: Math.round(pct(sorted, 50)),
    p99: Math.round(p99),
    p999: Math.round(pct(sorted, 99.9)),
    max: Math.round(sorted[sorted.length - 1]),
    tail,
    causes,
    gcPauses: pauses.length,
    gcPausesByKind: pauses.reduce((o, p) => ((o[p.kind] = (o[p.kind] ?? 0) + 1), o), {}),
    gcMsPerSecond: Number(((gcMs / ((starts[n - 1] - starts[0]) / 1000)) || 0).toFixed(2)),
    tailPerSecond: perSecond,
    /** Share of all round trips (not only the tail) during which the process was switched off the CPU. */
    descheduledShare: Number((switchedAll / n).toFixed(4)),
    periodic: periodic(lat, n, pct(sorted, 50)),
  };
}

async function phase(name, ms) {
  const impl = peers[name];
  const server = await impl.serve();
  const peer = await impl.connect({ port: server.port });
  try {
    // Warm the path first, as every bench does.
    await sequentialFor(peer, Math.min(2_000, ms / 4));
    global.gc?.();
    const { out, pauses } = await withGcLog(() => sequentialFor(peer, ms));
    return attribute(out, pauses);
  } finally {
    await peer.close();
    await server.close();
  }
}

const results = { ws: [], lifeline: [] };
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 ? ['lifeline', 'ws'] : ['ws', 'lifeline'];
  for (const name of order) {
    const res = await phase(name, SECONDS * 1000);
    results[name].push(res);
    const spread = res.tailPerSecond;
    console.log(
      `round ${r + 1} ${name.padEnd(8)} n ${res.n} p50 ${res.p50} µs p99 ${res.p99} p99.9 ${res.p999} max ${res.max} | ` +
        `above p99 ${res.tail}: ${JSON.stringify(res.causes)} | GC pauses ${JSON.stringify(res.gcPausesByKind)}, ${res.gcMsPerSecond} ms/s | ` +
        `above p99 per second min ${Math.min(...spread)} max ${Math.max(...spread)} | descheduled in ${(res.descheduledShare * 100).toFixed(2)} % of all round trips | ` +
        `slowest residue: every ${res.periodic?.period}th round trip p25 ${res.periodic?.p25} µs (${res.periodic?.ratio}× the phase's p50), p50 ${res.periodic?.p50}, ${res.periodic?.trips} trips`,
    );
  }
}
const out = arg('out');
if (out) writeFileSync(out, JSON.stringify({ seconds: SECONDS, rounds: ROUNDS, results }, null, 2));
process.exit(0);
