/**
 * Where the time of "all at once" goes, against 1,000 outstanding (issue 14), for raw ws and
 * Lifeline in two processes: the synchronous send loop, the first ack, the last ack, and the
 * read/write system calls per message of the client and of the server (Linux /proc/PID/io,
 * `syscr`/`syscw`), and the client's CPU and its time in V8's young-generation collections (the
 * scavenges that copy every send still awaiting its ack: what holds "at once" back, issue 14).
 * A diagnostic, not part of `npm run bench`:
 *   node --expose-gc bench/src/shape-probe.mjs [messages=50000] [rounds=2] [peers=raw-ws,lifeline]
 */
import { readFileSync } from 'node:fs';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { PEERS } from './peers/index.mjs';
import { startChild } from './spawn.mjs';
import { withDeadline } from './deadline.mjs';
import { burst, pipelined, sequential } from './measure.mjs';

const n = Number(process.argv[2] ?? 50_000);
const rounds = Number(process.argv[3] ?? 2);
const keys = (process.argv[4] ?? 'raw-ws,lifeline').split(',');
const PHASE_MS = 120_000;
const serverScript = fileURLToPath(new URL('./server-child.mjs', import.meta.url));

function syscalls(pid) {
  try {
    const io = Object.fromEntries(readFileSync(`/proc/${pid}/io`, 'utf8').trim().split('\n').map((l) => l.split(': ')));
    return { reads: Number(io.syscr), writes: Number(io.syscw) };
  } catch {
    return undefined;
  }
}

/** Milliseconds of GC in this process since the last `phase()`: young generation (scavenges) and the rest. */
const gcTime = { minor: 0, other: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    if (e.detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) gcTime.minor += e.duration;
    else gcTime.other += e.duration;
  }
}).observe({ entryTypes: ['gc'] });
/** Client CPU µs and GC ms over a phase: `const done = phase(); …; done()` gives its text. */
function phase() {
  const cpu = process.cpuUsage();
  gcTime.minor = 0;
  gcTime.other = 0;
  return () => {
    const used = process.cpuUsage(cpu);
    return `client CPU ${((used.user + used.system) / n).toFixed(2)} µs/msg, scavenges ${Math.round(gcTime.minor)} ms, other GC ${Math.round(gcTime.other)} ms`;
  };
}

const perMsg = (a, b, k) => (a && b ? ((b[k] - a[k]) / n).toFixed(3) : '?');

/** One at-once phase, timed in its parts. */
function atOnce(peer) {
  globalThis.gc?.();
  let acked = 0;
  let firstAck = 0;
  const done = new Promise((resolve, reject) => {
    peer.onError = reject;
    peer.onAck = () => {
      firstAck ||= performance.now();
      if (++acked === n) resolve();
    };
  });
  const t0 = performance.now();
  for (let i = 0; i < n; i++) peer.fire();
  const loopMs = performance.now() - t0;
  return withDeadline(done, PHASE_MS, `at once ${n}`).then(() => ({ loopMs, firstAckMs: firstAck - t0, ms: performance.now() - t0 }));
}

for (const key of keys) {
  const spec = PEERS.find((p) => p.key === key);
  const server = await startChild(serverScript, [JSON.stringify({ peer: key })]);
  const mod = await import(`./peers/${spec.module}`);
  const peer = await mod.connect({ port: server.ready.port, options: spec.options, mode: 'perf' });
  try {
    await pipelined(peer, 2_000, 1_000, PHASE_MS);
    await burst(peer, 1_000, PHASE_MS);
    await sequential(peer, 200, PHASE_MS);
    for (let round = 0; round < rounds; round++) {
      let c0 = syscalls(process.pid);
      let s0 = syscalls(server.child.pid);
      let client = phase();
      const b = await atOnce(peer);
      const onceClient = client();
      let c1 = syscalls(process.pid);
      let s1 = syscalls(server.child.pid);
      const io = `client r/w per msg ${perMsg(c0, c1, 'reads')}/${perMsg(c0, c1, 'writes')}, server ${perMsg(s0, s1, 'reads')}/${perMsg(s0, s1, 'writes')}`;
      console.log(
        `${key} at once: ${Math.round((n / b.ms) * 1000)} msg/s; send loop ${Math.round(b.loopMs)} ms, first ack ${Math.round(b.firstAckMs)} ms, last ack ${Math.round(b.ms)} ms; ${io}; ${onceClient}`,
      );
      [c0, s0] = [syscalls(process.pid), syscalls(server.child.pid)];
      client = phase();
      const w = await pipelined(peer, n, 1_000, PHASE_MS);
      const windowedClient = client();
      [c1, s1] = [syscalls(process.pid), syscalls(server.child.pid)];
      console.log(`${key} 1,000 outstanding: ${Math.round(w.perSecond)} msg/s; client r/w per msg ${perMsg(c0, c1, 'reads')}/${perMsg(c0, c1, 'writes')}, server ${perMsg(s0, s1, 'reads')}/${perMsg(s0, s1, 'writes')}; ${windowedClient}`);
    }
  } finally {
    peer.onError = () => {};
    await withDeadline(Promise.resolve(peer.close()), 5_000, 'close').catch(() => {});
    await server.close();
  }
}
