/**
 * The measured phases of the engines benchmark. Every phase reads the same counters before and
 * after (each node's CPU, handled messages and ioredis commands; Redis `INFO`) and divides
 * their growth by the phase's messages. `context`: `{ params, children, redis, log }`.
 */
import hdr from 'hdr-histogram-js';
import { newHistogram, summarize } from '../measure.mjs';
import { counterDelta, counters } from './redis.mjs';

const cpuUs = (a, b) => b.user - a.user + (b.system - a.system);
const slack = (params) => params.phaseMs + 15_000;

async function snapshot(nodes, redis) {
  const stats = await Promise.all(nodes.map((n) => n.request('stats')));
  return { stats, redis: redis ? await counters(redis) : undefined };
}

/** Runs `body()` between two snapshots; `count` is the messages (or pushes) the phase moved. */
async function measured(context, nodes, count, body) {
  const before = await snapshot(nodes, context.redis);
  const result = await body();
  const after = await snapshot(nodes, context.redis);
  const sum = (f) => nodes.reduce((s, _, k) => s + f(before.stats[k], after.stats[k]), 0);
  const costs = {
    count,
    handled: sum((a, b) => b.handled - a.handled),
    redelivered: sum((a, b) => b.redelivered - a.redelivered),
    serverErrors: sum((a, b) => b.errors - a.errors),
    serverCpuUsPerMsg: sum((a, b) => cpuUs(a.cpu, b.cpu)) / count,
    redisRoundTripsPerMsg: sum((a, b) => b.redisCommands - a.redisCommands) / count,
  };
  if (before.redis && after.stats.some((s) => s.redisCommands > 0)) {
    const d = counterDelta(before.redis, after.redis);
    costs.redisCommandsPerMsg = d.commands / count;
    costs.redisCpuUsPerMsg = d.cpuUs / count;
    costs.redisClients = d.clients;
    costs.redisCallsPerMsg = Object.fromEntries(Object.entries(d.calls).map(([k, v]) => [k, v / count]));
  }
  return { ...result, ...costs };
}

/** Several clients' `pipelined` at once: throughput over the earliest start to the latest end. */
async function pipelinedAll(context, clients, n, window) {
  const each = await Promise.all(clients.map((c) => c.request('pipelined', { n, window }, slack(context.params))));
  const ms = Math.max(...each.map((r) => r.end)) - Math.min(...each.map((r) => r.start));
  const total = n * clients.length;
  return { n: total, window, ms, perSecond: (total / ms) * 1000, clientCpuUsPerMsg: each.reduce((s, r) => s + r.cpuUs, 0) / total };
}

/** Several clients' sequential round trips at once, merged into one histogram (µs). */
async function sequentialAll(context, clients, n) {
  const encoded = await Promise.all(clients.map((c) => c.request('sequential', { n, warm: 0 }, slack(context.params))));
  const merged = newHistogram();
  for (const e of encoded) merged.add(hdr.decodeFromCompressedBase64(e));
  const { curve, ...latency } = summarize(merged);
  return { latency };
}

async function closeAll(...groups) {
  for (const group of groups) await Promise.allSettled((group ?? []).map((c) => c.close(8_000)));
}

const failure = (error, nodes, clients) => {
  const tails = [...(nodes ?? []), ...(clients ?? [])].map((c) => c.stderr.trim()).filter(Boolean);
  return `${error?.message ?? error}${tails.length ? ` (stderr: ${tails.join(' | ').slice(-600)})` : ''}`;
};

/** One node of `kind`, one client process: sends pipelined, all at once, sequential; pushes. */
export async function runSingle(context, kind, keyPrefix) {
  const { params, children, log } = context;
  let nodes;
  let clients;
  try {
    nodes = await children.nodes(kind, 1, keyPrefix);
    clients = await children.clients([nodes[0].ready.port]);
    const [client] = clients;
    const warm = Math.min(params.warmup, params.messages);
    await pipelinedAll(context, clients, warm, params.window);
    const pipelined = await measured(context, nodes, params.messages, () => pipelinedAll(context, clients, params.messages, params.window));
    const burst = await measured(context, nodes, params.burst, () => pipelinedAll(context, clients, params.burst, params.burst));
    await client.request('sequential', { n: Math.ceil(params.latency / 2), warm: 0 }, slack(params));
    const sequential = await measured(context, nodes, params.latency, () => sequentialAll(context, clients, params.latency));
    await nodes[0].request('push', { count: Math.min(1_000, params.pushes), window: params.pushWindow }, slack(params));
    const receivedBefore = await client.request('received');
    const push = await measured(context, nodes, params.pushes, async () => {
      const r = await nodes[0].request('push', { count: params.pushes, window: params.pushWindow }, slack(params));
      return { ms: r.ms, window: params.pushWindow, perSecond: (params.pushes / r.ms) * 1000 };
    });
    push.received = (await client.request('received')) - receivedBefore;
    const row = { engine: kind, keyPrefix: kind === 'redis' ? keyPrefix : undefined, pipelined, burst, sequential, push };
    log(`${kind}: ${Math.round(pipelined.perSecond)} msg/s windowed, ${Math.round(burst.perSecond)} all at once, p99 ${sequential.latency.p99} µs, ${Math.round(push.perSecond)} pushes/s`);
    return row;
  } catch (error) {
    const message = failure(error, nodes, clients);
    log(`${kind} FAILED: ${message}`);
    return { engine: kind, error: message };
  } finally {
    await closeAll(clients, nodes);
  }
}

/** `count` Redis nodes on one prefix, `params.clients` client processes spread over them. */
export async function runNodes(context, count, keyPrefix) {
  const { params, children, log } = context;
  let nodes;
  let clients;
  try {
    nodes = await children.nodes('redis', count, keyPrefix);
    const ports = Array.from({ length: params.clients }, (_, k) => nodes[k % count].ready.port);
    clients = await children.clients(ports);
    const per = Math.ceil(params.nodeMessages / params.clients);
    await pipelinedAll(context, clients, Math.min(per, Math.ceil(params.warmup / params.clients)), params.window);
    const pipelined = await measured(context, nodes, per * params.clients, () => pipelinedAll(context, clients, per, params.window));
    await sequentialAll(context, clients, Math.ceil(params.nodeLatency / 2));
    const sequential = await measured(context, nodes, params.nodeLatency * params.clients, () => sequentialAll(context, clients, params.nodeLatency));
    log(`redis ${count} node(s), ${params.clients} clients: ${Math.round(pipelined.perSecond)} msg/s, concurrent sequential p99 ${sequential.latency.p99} µs`);
    return { nodes: count, clients: params.clients, keyPrefix, pipelined, sequential };
  } catch (error) {
    const message = failure(error, nodes, clients);
    log(`redis ${count} node(s) FAILED: ${message}`);
    return { nodes: count, clients: params.clients, error: message };
  } finally {
    await closeAll(clients, nodes);
  }
}
