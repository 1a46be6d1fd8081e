/**
 * Benchmark regression guard for CI: a few seconds, never an absolute time. Raw ws echo and
 * Lifeline are measured alternately by this one process (servers in child processes), and the
 * guard fails only on a gross regression of Lifeline RELATIVE to raw ws:
 *   - pipelined throughput below --min-throughput-ratio × raw ws (default 0.7: every guard run
 *     since issue 14's speed-ups read 1.02-2.36x, so 0.7 leaves two thirds of the lowest for noise
 *     and still fails Lifeline losing half its speed; it was 0.25 when Lifeline ran at 0.5-0.7x),
 *   - sequential median (p50) latency above --max-p50-ratio × raw ws (default 3). The p99 is
 *     reported but not gated: over a few hundred round trips on a shared CI machine it is noise.
 *     The round trips that count follow SETTLE more after the forced GC (issue 14, stop 26):
 *     read right after it, as until then, Lifeline's p50 was 1.48-2.76x raw ws in twenty-five
 *     runs and the ceiling 5; settled, twelve runs on 2026-12-07 read 1.25-1.33x and one
 *     2.00x, so 3 leaves 1.5 times the worst for noise and fails Lifeline's round trip growing
 *     by 2.3 times its median (1.3). On 2026-12-08 eight runs read 0.78-3.48x, two of them over
 *     3: each side's client and server had landed on one core or on two (pin.mjs). The
 *     sequential phases now run with the guard's processes on the idlest CPU (Linux), and sixteen runs
 *     read 1.36-1.60x: 3 is 1.9 times the worst.
 *   - server heap per held idle connection above --max-idle-heap-ratio × a bare ws server's
 *     (default 1.7; Lifeline only), 1,000 connections from a child process (`idle-heap.mjs`).
 *     It read 2.20-2.22 before issue 14's cuts, 1.39-1.72 after the first of them, and
 *     1.34-1.44 in seven runs after the writer pool (2026-12-07, e812874): 1.7 leaves 1.18
 *     times the worst of those for noise; the heap moves by a few bytes a run, RSS by hundreds.
 *     On 2026-12-08 single readings reached 1.57, so the gated figure is now the median of
 *     three rounds (1.30-1.40 in six guard runs, rounds 1.26-1.48).
 * Each side keeps its best round (the least disturbed by a busy CI machine).
 * Exit 0: ok; 1: regression; 2: could not measure (packages not built, timeout, crash).
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PEERS } from './peers/index.mjs';
import { startChild } from './spawn.mjs';
import { withDeadline } from './deadline.mjs';
import { pipelined, sequential, settledLatency } from './measure.mjs';
import { idleHeapPerConnection } from './idle-heap.mjs';
import { onOneCpu } from './pin.mjs';

const { values: args } = parseArgs({
  options: {
    'min-throughput-ratio': { type: 'string', default: '0.7' },
    'max-p50-ratio': { type: 'string', default: '3' },
    'max-idle-heap-ratio': { type: 'string', default: '1.7' },
    'idle-connections': { type: 'string', default: '1000' },
    messages: { type: 'string', default: '5000' },
    latency: { type: 'string', default: '500' },
    rounds: { type: 'string', default: '3' },
    peer: { type: 'string', default: 'lifeline' },
    'deadline-ms': { type: 'string', default: '60000' },
    json: { type: 'boolean', default: false },
  },
});
const minThroughputRatio = Number(args['min-throughput-ratio']);
const maxP50Ratio = Number(args['max-p50-ratio']);
const maxIdleHeapRatio = Number(args['max-idle-heap-ratio']);
const idleConnections = Number(args['idle-connections']);
const messages = Number(args.messages);
const latencyMessages = Number(args.latency);
const rounds = Number(args.rounds);
const deadlineMs = Number(args['deadline-ms']);
const WINDOW = 1_000;
const PHASE_MS = 20_000;
/** Round trips after the forced GC before the measured ones. */
const SETTLE = 2_000;

const serverScript = fileURLToPath(new URL('./server-child.mjs', import.meta.url));
const sides = ['raw-ws', args.peer].map((key) => {
  const spec = PEERS.find((p) => p.key === key);
  if (!spec) throw new TypeError(`unknown peer ${key}`);
  return { spec, server: undefined, peer: undefined, best: { throughput: 0, p50: Infinity, p99: Infinity } };
});

async function open(side) {
  side.server = await startChild(serverScript, [JSON.stringify({ peer: side.spec.key })], { readyMs: 10_000 });
  const mod = await import(`./peers/${side.spec.module}`);
  side.peer = await mod.connect({ port: side.server.ready.port, options: side.spec.options, mode: 'perf' });
}

/** Whether the sequential phases ran with every process of the guard on one CPU (see pin.mjs). */
let latencyPinned = false;

async function measure() {
  for (const side of sides) await open(side);
  const servers = sides.map((side) => side.server.child.pid);
  for (const side of sides) {
    await pipelined(side.peer, Math.min(1_000, messages), WINDOW, PHASE_MS);
    await sequential(side.peer, 50, PHASE_MS);
  }
  for (let round = 0; round < rounds; round++) {
    // Alternate which side goes first, so neither always gets the quieter moment.
    const order = round % 2 ? [...sides].reverse() : sides;
    for (const side of order) {
      const t = await pipelined(side.peer, messages, WINDOW, PHASE_MS);
      // The forced GC before the sequential phase deoptimizes code (measure.mjs `latencies`), so
      // SETTLE round trips let V8 compile it again before the ones that count.
      // Throughput is read unpinned (every core, as an app runs), latency on one CPU: there
      // the scheduler's placement of each process pair cannot decide the median.
      const { result: l, pinned } = await onOneCpu(servers, () => settledLatency(side.peer, SETTLE, latencyMessages, PHASE_MS));
      latencyPinned ||= pinned;
      side.best.throughput = Math.max(side.best.throughput, t.perSecond);
      side.best.p50 = Math.min(side.best.p50, l.p50);
      side.best.p99 = Math.min(side.best.p99, l.p99);
    }
  }
}

/** Rounds of the idle-heap comparison; the median round is the one gated. */
const HEAP_ROUNDS = 3;

/**
 * Lifeline's server heap per idle connection ÷ a bare ws server's, the median of `HEAP_ROUNDS`
 * rounds in alternating order, or undefined for another peer. One round moves by a few hundred
 * bytes a connection on either side (ws read 2,587-2,986 B in six rounds on 2026-12-08,
 * Lifeline 3,880-4,138 B), so a single ratio read 1.30-1.53 where the gate is 1.7.
 */
async function idleHeap() {
  if (args.peer !== 'lifeline') return undefined;
  const rounds = [];
  for (let round = 0; round < HEAP_ROUNDS; round++) {
    const order = round % 2 ? ['lifeline', 'ws'] : ['ws', 'lifeline'];
    const bytes = {};
    for (const peer of order) bytes[peer] = await idleHeapPerConnection(peer, idleConnections, PHASE_MS);
    rounds.push({ ws: bytes.ws, lifeline: bytes.lifeline, ratio: bytes.lifeline / bytes.ws });
  }
  rounds.sort((a, b) => a.ratio - b.ratio);
  return { ...rounds[Math.floor(HEAP_ROUNDS / 2)], rounds: rounds.map((r) => r.ratio) };
}

/** Close both sides (once: it runs before the idle-heap phase, and again in `finally`). */
async function cleanup() {
  for (const side of sides) {
    const { peer, server } = side;
    side.peer = side.server = undefined;
    if (peer) await withDeadline(Promise.resolve(peer.close()), 3_000, 'close').catch(() => {});
    await server?.close();
  }
}

let code = 2;
let report;
try {
  await withDeadline(measure(), deadlineMs, 'guard');
  await cleanup();
  const heap = await withDeadline(idleHeap(), deadlineMs, 'guard idle heap');
  const [ref, peer] = sides;
  const throughputRatio = peer.best.throughput / ref.best.throughput;
  const p50Ratio = peer.best.p50 / ref.best.p50;
  const p99Ratio = peer.best.p99 / ref.best.p99;
  const failures = [];
  if (!(throughputRatio >= minThroughputRatio)) failures.push(`throughput ${throughputRatio.toFixed(2)}× raw ws < ${minThroughputRatio}×`);
  if (!(p50Ratio <= maxP50Ratio)) failures.push(`median latency ${p50Ratio.toFixed(2)}× raw ws > ${maxP50Ratio}×`);
  if (heap !== undefined && !(heap.ratio <= maxIdleHeapRatio)) failures.push(`idle server heap ${heap.ratio.toFixed(2)}× bare ws > ${maxIdleHeapRatio}×`);
  code = failures.length ? 1 : 0;
  report = {
    ok: code === 0,
    peer: peer.spec.key,
    throughput: { raw: Math.round(ref.best.throughput), peer: Math.round(peer.best.throughput), ratio: throughputRatio, min: minThroughputRatio },
    p50Us: { raw: ref.best.p50, peer: peer.best.p50, ratio: p50Ratio, max: maxP50Ratio, pinnedToOneCpu: latencyPinned },
    p99Us: { raw: ref.best.p99, peer: peer.best.p99, ratio: p99Ratio },
    idleHeapBytes: heap === undefined ? undefined : { ws: Math.round(heap.ws), peer: Math.round(heap.lifeline), ratio: heap.ratio, rounds: heap.rounds, max: maxIdleHeapRatio },
    failures,
  };
  const line = `${peer.spec.key}: throughput ${throughputRatio.toFixed(2)}× raw ws (min ${minThroughputRatio}×), p50 ${p50Ratio.toFixed(2)}× raw ws (max ${maxP50Ratio}×${latencyPinned ? ', one CPU' : ''}), p99 ${p99Ratio.toFixed(2)}× (not gated)${heap === undefined ? '' : `, idle server heap ${heap.ratio.toFixed(2)}× bare ws (median of ${heap.rounds.map((r) => r.toFixed(2)).join(', ')}; max ${maxIdleHeapRatio}×)`}`;
  console.log(code === 0 ? `bench guard ok — ${line}` : `bench guard FAILED — ${failures.join('; ')} [${line}]`);
} catch (error) {
  report = { ok: false, error: error?.message ?? String(error) };
  console.error(`bench guard could not measure: ${report.error}`);
} finally {
  await cleanup();
}
if (args.json) console.log(JSON.stringify(report));
process.exit(code);
