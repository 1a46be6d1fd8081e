/**
 * One task for one peer, in a process of its own (so its CPU time and peak RSS are the client's
 * alone): starts the peer's server in a child process (server-child.mjs), connects, measures,
 * closes both, and sends `{ type: 'result', result }` to the orchestrator.
 * `shapes-local` serves the peer in this same process instead (one process, issue 14); `paired`
 * starts and connects raw ws too, to alternate with it.
 * argv[2]: JSON `{ peer, task: 'perf' | 'throughput' | 'paired' | 'memory' | 'replay' | 'shapes-remote' | 'shapes-local', params }`.
 */
import { fileURLToPath } from 'node:url';
import { PEERS, REFERENCE } from './peers/index.mjs';
import { startChild } from './spawn.mjs';
import { withDeadline } from './deadline.mjs';
import { inflightMemory, latencies, pipelined, replay, sequential, settledLatency } from './measure.mjs';
import { median } from './report.mjs';
import { localShapes, remoteShapes } from './shapes.mjs';
import { brokerCpuUs } from './broker.mjs';

process.send({ type: 'ready' });

const serverScript = fileURLToPath(new URL('./server-child.mjs', import.meta.url));
const { peer: key, task, params } = JSON.parse(process.argv[2]);
const spec = PEERS.find((p) => p.key === key);

/**
 * Starts the peer's server process; `undefined` for a peer that talks to an external broker
 * (except for `memory`, which needs a broker that never acks) and for `shapes-local`.
 */
export async function startServer(spec, { task, proxy = false }) {
  if (task === 'shapes-local') return undefined;
  if (spec.server === false && task !== 'memory') return undefined;
  return startChild(serverScript, [JSON.stringify({ peer: spec.key, proxy })], { readyMs: 10_000 });
}

/**
 * The task is the peer's connect mode (see peers/lifeline.mjs); the load shapes keep the peer's
 * defaults ('perf'): an all-at-once burst is meant to meet the client's own bounds as an
 * application's would.
 */
export async function connectPeer(spec, server, task, port) {
  const mod = await import(`./peers/${spec.module}`);
  const to = port ?? (server ? (server.ready.proxyPort ?? server.ready.port) : mod.BROKER?.port);
  return mod.connect({ port: to, options: spec.options, mode: task.startsWith('shapes') ? 'perf' : task });
}

/** The server's CPU time so far in µs: its process's, or Mosquitto's; `undefined` if unknown. */
async function serverCpuUs(server) {
  if (server) {
    const cpu = await server.request('cpu');
    return cpu.user + cpu.system;
  }
  return spec.broker ? brokerCpuUs() : undefined;
}

const tasks = {
  async perf(peer) {
    await pipelined(peer, params.warmup, params.window, params.phaseMs);
    await sequential(peer, params.latencyWarmup, params.phaseMs);
    const cpuBefore = await serverCpuUs(server);
    const t = await pipelined(peer, params.messages, params.window, params.phaseMs);
    const cpuAfter = await serverCpuUs(server);
    // Warm the sequential path again right before measuring it, for every peer alike: a peer that
    // coalesces runs its per-message code paths far less often under pipelining, so without this
    // its sequential phase starts on code V8 has not optimised yet (profiled in issue 5); and
    // read it once settled after the forced GC as well as right after it (`latencies`).
    const { latency, afterGc } = await latencies(peer, params);
    return {
      throughput: t.perSecond,
      cpuUsPerMsg: t.cpuUsPerMsg,
      serverCpuUsPerMsg: cpuBefore === undefined || cpuAfter === undefined ? undefined : (cpuAfter - cpuBefore) / params.messages,
      latency,
      afterGc,
      peakRssMB: process.resourceUsage().maxRSS / 1024,
    };
  },
  /** Pipelined throughput only, with the server's CPU time over the measured phase too. */
  async throughput(peer, server) {
    await pipelined(peer, params.warmup, params.window, params.phaseMs);
    const before = await serverCpuUs(server);
    const t = await pipelined(peer, params.messages, params.window, params.phaseMs);
    const after = await serverCpuUs(server);
    return { ...t, serverCpuUsPerMsg: (after - before) / params.messages };
  },
  /**
   * Sequential latency paired with raw ws: both connected from this one process to servers of
   * their own, `pairedRounds` rounds alternating which goes first, each a settled reading of
   * each side. A slow spell of the machine then falls on both sides of a round's ratio alike,
   * where the perf task measures raw ws minutes before the peer.
   */
  async paired(peer) {
    const refSpec = PEERS.find((p) => p.key === REFERENCE);
    extra.server = await startServer(refSpec, { task: 'perf' });
    extra.peer = await connectPeer(refSpec, extra.server, 'perf');
    const sides = [extra.peer, peer];
    for (const side of sides) {
      await pipelined(side, params.warmup, params.window, params.phaseMs);
      await sequential(side, params.latencyWarmup, params.phaseMs);
    }
    const rounds = [];
    for (let round = 0; round < params.pairedRounds; round++) {
      const got = [];
      for (const i of round % 2 ? [1, 0] : [0, 1]) {
        const { p50, p99 } = await settledLatency(sides[i], params.latencySettle, params.latencyMessages, params.phaseMs);
        got[i] = { p50, p99 };
      }
      rounds.push({ ref: got[0], peer: got[1] });
    }
    /** Each round's p50 ratio, the figure the report lists round by round. */
    const p50Ratios = rounds.map((r) => r.peer.p50 / r.ref.p50);
    return {
      rounds,
      p50Ratios,
      p50: median(rounds.map((r) => r.peer.p50)),
      p99: median(rounds.map((r) => r.peer.p99)),
      refP50: median(rounds.map((r) => r.ref.p50)),
      refP99: median(rounds.map((r) => r.ref.p99)),
      p50Ratio: median(p50Ratios),
      p99Ratio: median(rounds.map((r) => r.peer.p99 / r.ref.p99)),
    };
  },
  'shapes-remote': (peer, server) => remoteShapes(peer, params, () => serverCpuUs(server)),
  'shapes-local': (peer) => localShapes(peer, params),
  async memory(peer, server) {
    await server.request('block');
    return inflightMemory(peer, params.inFlight, params.phaseMs);
  },
  async replay(peer, server) {
    // A short warm-up on the live link first, so the fresh figure is not a cold start.
    await pipelined(peer, Math.min(1000, params.replayMessages), 100, params.phaseMs);
    return replay(peer, server, params.replayMessages, params.phaseMs);
  },
};

let server;
let local;
let peer;
let result;
/** The raw ws side of the `paired` task. */
const extra = { server: undefined, peer: undefined };
try {
  server = await startServer(spec, { task, proxy: task === 'replay' });
  if (task === 'shapes-local') local = await (await import(`./peers/${spec.module}`)).serve(spec.options);
  peer = await connectPeer(spec, server, task, local?.port);
  result = await tasks[task](peer, server);
} catch (error) {
  result = { error: error?.message ?? String(error) };
} finally {
  for (const p of [peer, extra.peer]) {
    if (!p) continue;
    p.onError = () => {};
    await withDeadline(Promise.resolve(p.close()), 5_000, 'client close').catch(() => {});
  }
  await server?.close();
  await extra.server?.close();
  if (local) await withDeadline(Promise.resolve(local.close()), 5_000, 'in-process server close').catch(() => {});
}
process.send({ type: 'result', result }, () => process.exit(0));
