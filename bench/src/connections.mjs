/**
 * `npm run connections -w @lifeline/bench`: what a held connection costs (issue 14). N sessions
 * (default 18,000: this machine allows 20,000 descriptors per process) on one server process,
 * from one client process, Lifeline against a bare `ws` server and clients in the same run:
 * connect rate, server memory per connection (heap and RSS, after a full GC; and how much of the
 * RSS growth may be V8's young generation, which grows with the connect storm's allocation rate
 * in both servers alike: its committed growth is printed, and the RSS ratio without it, which
 * over-corrects where not all of it is resident, as with a few thousand connections), idle CPU per
 * 10,000 connections over an idle window spanning two heartbeat intervals (both sides), and for
 * Lifeline the time until every client is open again after the server process is killed and a
 * new one started on the same port (the SDK's default full-jitter backoff; the embedded engine
 * loses sessions on a restart, so each client reports `session-lost` and starts a new one).
 * `lifeline-redis` (only when asked for in --peers) is Lifeline with `redisEngine` (--redis URL,
 * default redis://127.0.0.1:6379) under a prefix of its own: its sessions outlive the process, so
 * after the restart every client resumes its session, and the time is until all are resumed.
 * Every key under that prefix is deleted at the end.
 * `ws-greeted` (only when asked for in --peers) is the bare server again, each connection having
 * carried one message each way first, as every Lifeline session has (hello, welcome): a reference
 * for what of the difference is a socket that was never read or written.
 * Options: --count 18000 --at-once 200 --idle-ms 30000 --peers ws,lifeline --redis URL --out FILE, and
 * --profile DIR: a CPU profile of the idle window of both processes (DIR/PEER-server.cpuprofile,
 * DIR/PEER-clients.cpuprofile) and a heap snapshot of the server after it (DIR/PEER-server.heapsnapshot).
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { startChild } from './spawn.mjs';
import { holdConnections } from './idle-heap.mjs';
import { sleep } from './deadline.mjs';
import { machineInfo } from './machine.mjs';
import { deletePrefixSettled, openRedis } from './engines/redis.mjs';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const log = (...a) => console.error(...a);
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const count = Number(arg('count', '18000'));
const atOnce = Number(arg('at-once', '200'));
const idleMs = Number(arg('idle-ms', '30000'));
const peers = arg('peers', 'ws,lifeline').split(',');
const out = arg('out', undefined);
const profileDir = arg('profile', undefined);
const redisUrl = arg('redis', 'redis://127.0.0.1:6379');
const keyPrefix = `lifeline-bench:connections-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}:`;
const cpuUs = (a, b) => b.user - a.user + (b.system - a.system);
const serverScript = here('./connections/server.mjs');

async function measure(peer) {
  const serverArgs = peer === 'lifeline-redis' ? { redisUrl, keyPrefix } : {};
  const held = await holdConnections(peer, count, { atOnce, readyMs: 600_000, serverHeapMb: 8192, clientHeapMb: 16384, serverArgs });
  let server = held.server;
  const { clients, before, after } = held;
  try {
    const connectMs = clients.ready.connectMs;
    if (profileDir !== undefined) await Promise.all([server.request('profileStart'), clients.request('profileStart')]);
    const serverCpu0 = await server.request('cpu');
    const clientCpu0 = await clients.request('cpu');
    await sleep(idleMs);
    const serverIdle = cpuUs(serverCpu0, await server.request('cpu'));
    const clientIdle = cpuUs(clientCpu0, await clients.request('cpu'));
    if (profileDir !== undefined) {
      // The profiler's own sampling is in the CPU figures of this run: compare them only with runs without --profile.
      const file = (side) => resolve(profileDir, `${peer}-${side}.cpuprofile`);
      await Promise.all([server.request('profileStop', { file: file('server') }, 60_000), clients.request('profileStop', { file: file('clients') }, 60_000)]);
      await server.request('heapSnapshot', { file: file('server').replace(/cpuprofile$/, 'heapsnapshot') }, 120_000);
    }
    const per10k = (us) => (us / 1000 / (idleMs / 1000)) * (10_000 / count); // CPU ms per second per 10k connections
    const row = {
      peer,
      count,
      open: await server.request('count'),
      connectPerSecond: count / (connectMs / 1000),
      heapPerConnection: (after.heap - before.heap) / count,
      rssPerConnection: (after.rss - before.rss) / count,
      youngPerConnection: (after.young - before.young) / count,
      serverIdleCpuMsPerSecPer10k: per10k(serverIdle),
      clientIdleCpuMsPerSecPer10k: per10k(clientIdle),
    };
    if (peer.startsWith('lifeline')) {
      const port = server.ready.port;
      const waiting = clients.request('reconnected', { deadlineMs: 300_000 }, 320_000);
      server.kill();
      await server.exited;
      server = await startChild(serverScript, [JSON.stringify({ ...serverArgs, peer, port })], { execArgv: ['--expose-gc', '--max-old-space-size=8192'] });
      const again = await waiting;
      row.reconnectAllMs = again.ms;
      row.sessionLost = again.lost;
      row.resumed = again.resumed;
    }
    return row;
  } finally {
    await clients.close(60_000);
    await server.close(20_000);
  }
}

/** Delete the `lifeline-redis` sessions (twice: a write of the killed server may land late). */
async function cleanRedis() {
  const redis = await openRedis(redisUrl);
  try {
    log(`deleted ${(await deletePrefixSettled(redis, keyPrefix, 60_000)).deleted} keys under ${keyPrefix}`);
  } finally {
    redis.disconnect();
  }
}

const results = [];
log(`connections bench: ${JSON.stringify(machineInfo())}`);
for (const peer of peers) {
  try {
    const row = await measure(peer);
    log(JSON.stringify(row));
    results.push(row);
  } catch (error) {
    log(`${peer} FAILED: ${error.message}`);
    results.push({ peer, error: error.message });
  } finally {
    if (peer === 'lifeline-redis') await cleanRedis().catch((error) => log(`redis cleanup FAILED: ${error.message}`));
  }
}
const fmt = (n, d = 0) => (n === undefined ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));
const ref = results.find((r) => r.peer === 'ws' && !r.error);
const lines = [
  '| peer | connections | connects/s | server heap B/conn | server RSS B/conn | RSS ratio to ws | young generation growth B/conn (committed, not all of it resident) | RSS less that, ratio to ws | server idle CPU ms/s per 10k | client idle CPU ms/s per 10k | all reconnected after restart |',
  '|---|---|---|---|---|---|---|---|---|---|---|',
];
for (const r of results) {
  if (r.error) {
    lines.push(`| ${r.peer} | FAILED: ${r.error} | | | | | | | | | |`);
    continue;
  }
  lines.push(
    `| ${r.peer} | ${fmt(r.open)} | ${fmt(r.connectPerSecond)} | ${fmt(r.heapPerConnection)} | ${fmt(r.rssPerConnection)} | ${ref ? `${(r.rssPerConnection / ref.rssPerConnection).toFixed(2)}×` : '–'} | ${fmt(r.youngPerConnection)} | ${ref ? `${((r.rssPerConnection - r.youngPerConnection) / (ref.rssPerConnection - ref.youngPerConnection)).toFixed(2)}×` : '–'} | ${fmt(r.serverIdleCpuMsPerSecPer10k, 2)} | ${fmt(r.clientIdleCpuMsPerSecPer10k, 2)} | ${r.reconnectAllMs === undefined ? '–' : `${fmt(r.reconnectAllMs)} ms (${r.resumed} resumed, ${r.sessionLost} session-lost)`} |`,
  );
}
console.log(lines.join('\n'));
if (out) await writeFile(out, JSON.stringify({ machine: machineInfo(), results }, null, 2));
process.exit(0);
