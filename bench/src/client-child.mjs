/**
 * One task for one peer, in a process of its own (so its CPU time and peak RSS are the client's
 * alone): starts the peer's server in a child process (server-child.mjs), connects, measures,
 * closes both, and sends `{ type: 'result', result }` to the orchestrator.
 * argv[2]: JSON `{ peer, task: 'perf' | 'throughput' | 'memory' | 'replay', params }`.
 */
import { fileURLToPath } from 'node:url';
import { PEERS } from './peers/index.mjs';
import { startChild } from './spawn.mjs';
import { withDeadline } from './deadline.mjs';
import { inflightMemory, pipelined, replay, sequential, summarize } from './measure.mjs';

process.send({ type: 'ready' });

const serverScript = fileURLToPath(new URL('./server-child.mjs', import.meta.url));
const { peer: key, task, params } = JSON.parse(process.argv[2]);
const spec = PEERS.find((p) => p.key === key);

/** Starts the peer's server process; `undefined` for a peer that talks to an external broker. */
export async function startServer(spec, { task, proxy = false }) {
  if (spec.server === false && task === 'perf') return undefined;
  return startChild(serverScript, [JSON.stringify({ peer: spec.key, proxy })], { readyMs: 10_000 });
}

export async function connectPeer(spec, server, mode) {
  const mod = await import(`./peers/${spec.module}`);
  const port = server ? (server.ready.proxyPort ?? server.ready.port) : mod.BROKER?.port;
  return mod.connect({ port, options: spec.options, mode });
}

const tasks = {
  async perf(peer) {
    await pipelined(peer, params.warmup, params.window, params.phaseMs);
    await sequential(peer, params.latencyWarmup, params.phaseMs);
    const t = await pipelined(peer, params.messages, params.window, params.phaseMs);
    // Warm the sequential path again right before measuring it, for every peer alike: a peer that
    // coalesces runs its per-message code paths far less often under pipelining, so without this
    // its sequential phase starts on code V8 has not optimised yet (profiled in issue 5).
    await sequential(peer, params.latencyMessages, params.phaseMs);
    const latency = summarize(await sequential(peer, params.latencyMessages, params.phaseMs));
    return {
      throughput: t.perSecond,
      cpuUsPerMsg: t.cpuUsPerMsg,
      latency,
      peakRssMB: process.resourceUsage().maxRSS / 1024,
    };
  },
  /** Pipelined throughput only, with the server's CPU time over the measured phase too. */
  async throughput(peer, server) {
    await pipelined(peer, params.warmup, params.window, params.phaseMs);
    const before = await server.request('cpu');
    const t = await pipelined(peer, params.messages, params.window, params.phaseMs);
    const after = await server.request('cpu');
    const serverCpuUs = after.user + after.system - before.user - before.system;
    return { ...t, serverCpuUsPerMsg: serverCpuUs / params.messages };
  },
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
let peer;
let result;
try {
  server = await startServer(spec, { task, proxy: task === 'replay' });
  peer = await connectPeer(spec, server, task);
  result = await tasks[task](peer, server);
} catch (error) {
  result = { error: error?.message ?? String(error) };
} finally {
  if (peer) {
    peer.onError = () => {};
    await withDeadline(Promise.resolve(peer.close()), 5_000, 'client close').catch(() => {});
  }
  await server?.close();
}
process.send({ type: 'result', result }, () => process.exit(0));
