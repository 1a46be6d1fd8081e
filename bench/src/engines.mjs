/**
 * `npm run engines -w @lifeline/bench`: what an engine costs Lifeline (issue 12), in one run:
 * the embedded default (no `engine`), an explicit `memoryEngine()` (the shared-state path in one
 * process) and `redisEngine` on a real Redis, each one server node and one client process:
 * acked throughput pipelined (`--window` outstanding) and all at once, sequential p50/p99,
 * server CPU per message, Redis commands and CPU per message, and `session.send()` pushes acked
 * by the client. Then 1 against 3 nodes on one Redis prefix, `--clients` client processes
 * spread over them. Every key under the run's prefix is deleted at the end.
 * Options: --messages 100000 (the other sizes follow from it unless given) --window 1000
 * --burst --latency --pushes --clients 3 --node-messages --node-latency --engines
 * embedded,memory,redis --nodes 1,3 --redis redis://127.0.0.1:6379 --phase-ms 300000 --out FILE.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { startChild } from './spawn.mjs';
import { machineInfo } from './machine.mjs';
import { PAYLOAD_BYTES } from './payload.mjs';
import { backgroundRate, counters, deletePrefixSettled, openRedis } from './engines/redis.mjs';
import { runNodes, runSingle } from './engines/phases.mjs';
import { renderTables } from './engines/table.mjs';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const log = (...a) => console.error(...a);
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const num = (name, fallback) => Number(arg(name, String(fallback)));
const messages = num('messages', 100_000);
const params = {
  messages,
  window: num('window', 1_000),
  warmup: num('warmup', Math.min(10_000, Math.ceil(messages / 5))),
  burst: num('burst', Math.min(10_000, Math.ceil(messages / 10))),
  latency: num('latency', Math.min(5_000, Math.ceil(messages / 20))),
  pushes: num('pushes', Math.ceil(messages / 2)),
  pushWindow: num('push-window', 1_000),
  clients: num('clients', 3),
  nodeMessages: num('node-messages', Math.ceil((messages * 0.9) / 3) * 3),
  nodeLatency: num('node-latency', Math.min(2_000, Math.ceil(messages / 50))),
  phaseMs: num('phase-ms', 300_000),
};
const engines = arg('engines', 'embedded,memory,redis').split(',').filter(Boolean);
const nodeCounts = arg('nodes', '1,3').split(',').filter(Boolean).map(Number);
const redisUrl = arg('redis', 'redis://127.0.0.1:6379');
const out = arg('out', undefined);
const runPrefix = `lifeline-bench:${Date.now().toString(36)}-${randomBytes(3).toString('hex')}:`;

const live = new Set();
let stopping = false;
const spawn = async (script, args) => {
  if (stopping) throw new Error('stopping: no new child');
  const child = await startChild(here(script), [JSON.stringify(args)], { readyMs: 20_000, execArgv: ['--expose-gc'], captureStderr: true });
  live.add(child);
  child.exited.then(() => live.delete(child));
  return child;
};
const children = {
  nodes: (kind, count, keyPrefix) =>
    Promise.all(Array.from({ length: count }, () => spawn('./engines/server.mjs', { engine: kind, url: redisUrl, keyPrefix, pushMs: params.phaseMs }))),
  clients: (ports) => Promise.all(ports.map((port) => spawn('./engines/client.mjs', { port, phaseMs: params.phaseMs }))),
};

let redis;
let cleaned = false;
async function cleanup() {
  if (cleaned) return undefined;
  cleaned = true;
  await Promise.allSettled([...live].map((c) => c.close(5_000)));
  if (!redis) return undefined;
  try {
    return await deletePrefixSettled(redis, runPrefix);
  } finally {
    redis.disconnect();
  }
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    stopping = true;
    log(`${signal}: closing children and deleting ${runPrefix}*`);
    const hard = setTimeout(() => process.exit(130), 40_000);
    hard.unref();
    cleanup().finally(() => process.exit(130));
  });
}

const machine = machineInfo();
log(`engines bench: ${JSON.stringify({ machine, params, engines, nodeCounts, redisUrl, runPrefix })}`);
const run = { machine, params, payloadBytes: PAYLOAD_BYTES, redisUrl, keyPrefix: runPrefix, single: [], nodes: [] };
const needsRedis = engines.includes('redis') || nodeCounts.length > 0;
if (needsRedis) {
  try {
    redis = await openRedis(redisUrl);
    run.redis = { version: (await counters(redis)).version, background: await backgroundRate(redis) };
  } catch (error) {
    run.redis = { error: `Redis at ${redisUrl} cannot be had (${error.message}): start redis-server or pass --redis URL` };
    log(run.redis.error);
  }
}

const context = { params, children, redis, log };
for (const kind of engines) {
  if (stopping) break;
  if (kind === 'redis' && !redis) run.single.push({ engine: kind, error: run.redis.error });
  else run.single.push(await runSingle(context, kind, `${runPrefix}${kind}:`));
}
for (const count of nodeCounts) {
  if (stopping) break;
  if (!redis) run.nodes.push({ nodes: count, clients: params.clients, error: run.redis.error });
  else run.nodes.push(await runNodes(context, count, `${runPrefix}nodes${count}:`));
}

try {
  run.keysDeleted = await cleanup();
} catch (error) {
  run.keysDeleted = { error: error.message };
  log(`key cleanup failed: ${error.message}`);
}
console.log(renderTables(run));
if (out) await writeFile(out, JSON.stringify(run, null, 2));
process.exit(run.single.some((r) => r.error) || run.nodes.some((r) => r.error) ? 1 : 0);
