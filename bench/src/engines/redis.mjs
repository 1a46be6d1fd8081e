/**
 * The benchmark's own view of Redis: a bounded reachability check, `INFO` counters before and
 * after a phase, the rate other clients drive while we are idle, and the removal of every key
 * under the run's prefix (SCAN + UNLINK, bounded in rounds and time).
 */
import { Redis } from 'ioredis';
import { sleep, withDeadline } from '../deadline.mjs';

const SCAN_BATCH = 1_000;
const MAX_SCAN_ROUNDS = 100_000;
const SAMPLE = 10;

/** Connects and PINGs within `ms`; rejects (and disconnects) when Redis cannot be had. */
export async function openRedis(url, ms = 5_000) {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, commandTimeout: ms, connectTimeout: ms, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await withDeadline(redis.connect(), ms, `connect to ${url}`);
    await withDeadline(redis.ping(), ms, `PING ${url}`);
    return redis;
  } catch (error) {
    redis.disconnect();
    throw error;
  }
}

function parseInfo(text) {
  const fields = {};
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) fields[line.slice(0, i)] = line.slice(i + 1);
  }
  return fields;
}

/** The counters a phase's figures come from (this INFO call itself counts as one command). */
export async function counters(redis) {
  const f = parseInfo(await withDeadline(redis.info('everything'), 5_000, 'redis INFO'));
  const calls = {};
  for (const [k, v] of Object.entries(f)) {
    if (!k.startsWith('cmdstat_')) continue;
    calls[k.slice('cmdstat_'.length)] = Number(/calls=(\d+)/.exec(v)?.[1] ?? 0);
  }
  return {
    commands: Number(f.total_commands_processed),
    cpuS: Number(f.used_cpu_sys) + Number(f.used_cpu_user),
    clients: Number(f.connected_clients),
    version: f.redis_version,
    calls,
  };
}

/** What Redis did between two `counters()`: commands (our INFO subtracted), CPU µs, calls by command. */
export function counterDelta(a, b) {
  const calls = {};
  for (const [k, v] of Object.entries(b.calls)) {
    const d = v - (a.calls[k] ?? 0) - (k === 'info' ? 1 : 0);
    if (d > 0) calls[k] = d;
  }
  return { commands: b.commands - a.commands - 1, cpuUs: (b.cpuS - a.cpuS) * 1e6, clients: Math.max(a.clients, b.clients), calls };
}

/** Commands per second Redis processes while this benchmark sends none (other clients' noise). */
export async function backgroundRate(redis, ms = 1_000) {
  const a = await counters(redis);
  const t0 = performance.now();
  await sleep(ms);
  const b = await counters(redis);
  const d = counterDelta(a, b);
  const s = (performance.now() - t0) / 1000;
  return { commandsPerSecond: d.commands / s, cpuUsPerSecond: d.cpuUs / s, clients: d.clients };
}

/**
 * Deletes every key that starts with `prefix` (no glob characters in it); resolves with the
 * count and a few of the names (without the prefix): what the engine had left behind.
 */
export async function deletePrefix(redis, prefix, ms = 30_000) {
  if (/[*?[\]\\]/.test(prefix)) throw new Error(`prefix ${prefix} has glob characters`);
  const run = async () => {
    let cursor = '0';
    let deleted = 0;
    const sample = [];
    for (let round = 0; round < MAX_SCAN_ROUNDS; round++) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', SCAN_BATCH);
      if (keys.length > 0) deleted += await redis.unlink(...keys);
      for (const k of keys.slice(0, SAMPLE - sample.length)) sample.push(k.slice(prefix.length));
      cursor = next;
      if (cursor === '0') return { deleted, sample };
    }
    throw new Error(`SCAN of ${prefix}* did not finish within ${MAX_SCAN_ROUNDS} rounds`);
  };
  return withDeadline(run(), ms, `delete keys ${prefix}*`);
}

/**
 * `deletePrefix` twice, a second apart: a command a node wrote just before it exited (its sweep,
 * its heartbeat) can reach Redis after the first SCAN passed. `late`: what the second pass found.
 */
export async function deletePrefixSettled(redis, prefix, ms = 30_000) {
  const first = await deletePrefix(redis, prefix, ms);
  await sleep(1_000);
  const late = await deletePrefix(redis, prefix, ms);
  return { deleted: first.deleted + late.deleted, late: late.deleted, sample: [...first.sample, ...late.sample] };
}

/**
 * A bench server's `redisEngine`: a Redis error is part of the result (the run fails its
 * deadline), not a crash; the first few are shown, labelled with `who`.
 */
export async function benchRedisEngine(url, keyPrefix, who) {
  const { redisEngine } = await import('@lifeline/redis');
  let reported = 0;
  return redisEngine({
    url,
    keyPrefix,
    onError: (error) => {
      if (reported++ < 5) console.error(`${who}: redis engine error: ${error?.message ?? error}`);
    },
  });
}
