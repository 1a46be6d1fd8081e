/**
 * One round trip at a time, server and client of one peer in this one process (issue 14's
 * sequential latency): prints the mean, p50, p90, p99 and p99.9 in µs, and the share of the time
 * spent in round trips over 100 µs. A diagnostic, not part of `npm run bench`; one process per
 * peer, so each starts cold alike. Pin it to one CPU to take the scheduler out:
 *   taskset -c 1 node bench/src/seq-probe.mjs lifeline|ws|ack [round trips=60000] [remote [server cpu]]
 * `remote`: the server runs in a child process (bench/src/server-child.mjs), moved to `server cpu`
 * with `taskset -p` when one is given. Prints the CPU time per round trip of each process too,
 * user and system apart.
 * Profile with `node --cpu-prof --cpu-prof-interval 100`; the remote server with
 * `CHILD_ARGV='--cpu-prof --cpu-prof-dir=DIR'` (Node refuses `--cpu-prof` in NODE_OPTIONS).
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { withDeadline } from './deadline.mjs';
import { startChild } from './spawn.mjs';
import * as rawWs from './peers/raw-ws.mjs';
import * as lifeline from './peers/lifeline.mjs';
import * as naiveAck from './peers/naive-ack.mjs';

const peers = { ws: rawWs, ack: naiveAck, lifeline };
const key = process.argv[2];
const mod = peers[key];
if (mod === undefined) throw new Error(`usage: seq-probe.mjs ${Object.keys(peers).join('|')} [round trips]`);
const n = Number(process.argv[3] ?? 60_000);
const WARMUP = 20_000;
const DEADLINE_MS = 120_000;

const remote = process.argv[4] === 'remote';
const serverCpu = process.argv[5];

async function serve() {
  if (!remote) return mod.serve({});
  const child = await startChild(fileURLToPath(new URL('./server-child.mjs', import.meta.url)), [JSON.stringify({ peer: { ws: 'raw-ws', ack: 'naive-ack' }[key] ?? key })], {
    execArgv: process.env.CHILD_ARGV ? process.env.CHILD_ARGV.split(' ') : [],
  });
  if (serverCpu !== undefined) execFileSync('taskset', ['-p', '-c', serverCpu, String(child.child.pid)], { stdio: 'ignore', timeout: 5_000 });
  return { port: child.ready.port, close: () => child.close(), cpu: () => child.request('cpu', {}, 5_000) };
}

const server = await serve();
const peer = await mod.connect({ port: server.port, options: {}, mode: 'perf' });
let latencies = new Float64Array(0);

/** `count` round trips, each fired when the last is answered; kept in `latencies` (ms). */
function run(count) {
  latencies = new Float64Array(count);
  let done = 0;
  let t = 0;
  return withDeadline(
    new Promise((resolve, reject) => {
      peer.onError = reject;
      peer.onAck = () => {
        const now = performance.now();
        latencies[done++] = now - t;
        t = now;
        if (done === count) resolve();
        else peer.fire();
      };
      t = performance.now();
      peer.fire();
    }),
    DEADLINE_MS,
    `${count} round trips`,
  );
}

try {
  await run(WARMUP);
  const serverCpu0 = await server.cpu?.();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await run(n);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const serverCpu1 = await server.cpu?.();
  const perTrip = (us) => (us / n).toFixed(1);
  // User and system time apart: the system calls per trip are the same for every peer (strace),
  // so a gap in system time is the kernel's, and a gap in user time is JavaScript, V8 and Node.
  const split = (user, system) => `${perTrip(user + system)} µs (user ${perTrip(user)}, system ${perTrip(system)})`;
  const cpuText = remote
    ? `CPU per trip: client ${split(cpu.user, cpu.system)}, server ${split(serverCpu1.user - serverCpu0.user, serverCpu1.system - serverCpu0.system)}`
    : `CPU per trip ${split(cpu.user, cpu.system)}`;
  // Numeric order: sort() alone orders numbers as text, which puts 10 ms before 2 ms.
  const sorted = latencies.slice().sort((a, b) => a - b);
  const us = (p) => Math.round(sorted[Math.floor(p * (sorted.length - 1))] * 1000);
  let slow = 0;
  for (const v of sorted) if (v > 0.1) slow += v;
  console.log(
    `${key}${remote ? ' (two processes)' : ''} ${((ms * 1000) / n).toFixed(1)} µs mean; p50 ${us(0.5)} p90 ${us(0.9)} p99 ${us(0.99)} p99.9 ${us(0.999)}; time in trips >100µs ${Math.round((slow / ms) * 100)}%; ${cpuText}`,
  );
} finally {
  peer.onError = () => {};
  await withDeadline(Promise.resolve(peer.close()), 5_000, 'close').catch(() => {});
  await server.close();
}
