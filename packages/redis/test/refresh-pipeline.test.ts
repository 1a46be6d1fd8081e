import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { limits, record } from '../../server/test/engine-contract.js';
import { EngineUnavailableError, redisEngine, type RedisEngine } from '../src/index.js';
import { MAX_PIPELINED } from '../src/script-pipeline.js';
import { fixture, REDIS_URL, type Fixture } from './kit.js';
import { killRedisServers, startRedisOnFreePort } from './own-redis.js';

// `sessions.refresh` calls made in one turn (the touch sweep's) go to Redis as one pipeline:
// counted here as writes on the engine's own socket, on the real Redis.

let f: Fixture | undefined;
const clients: Redis[] = [];
const engines: RedisEngine[] = [];
afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.close();
  for (const client of clients.splice(0)) client.disconnect();
  await f?.cleanup();
  f = undefined;
  killRedisServers();
});

/** An engine on a client of this test's, whose socket writes are counted. */
async function countedEngine(url: string, keyPrefix: string, commandTimeout = 2_000) {
  const client = new Redis(url, { maxRetriesPerRequest: 1, commandTimeout, lazyConnect: true });
  client.on('error', () => {});
  clients.push(client);
  await client.connect();
  const engine = redisEngine({ client, keyPrefix, onError: () => {} });
  engines.push(engine);
  const counted = { writes: 0 };
  const stream = (client as unknown as { stream: { write: (...args: unknown[]) => boolean } }).stream;
  const write = stream.write.bind(stream);
  stream.write = (...args: unknown[]) => {
    counted.writes++;
    return write(...args);
  };
  return { engine, counted };
}

describe('redisEngine: sessions.refresh in one turn is one pipeline', () => {
  it(`${MAX_PIPELINED + 64} refreshes at once take two writes, and each gets its own answer: holder, other node, detached, unknown`, async () => {
    f = await fixture();
    const { engine, counted } = await countedEngine(REDIS_URL, f.prefix);
    const kinds = ['A', 'B', null, 'unknown'] as const;
    const n = MAX_PIPELINED + 64;
    const ids = Array.from({ length: n }, (_, i) => `s${i}`);
    const kindOf = (i: number) => kinds[i % kinds.length];
    await Promise.all(ids.map((id, i) => (kindOf(i) === 'unknown' ? undefined : engine.sessions.create(record(id), limits, kindOf(i) as string | null))));
    const ttlKey = (id: string) => `${f!.prefix}s{${id}}:r`;
    await Promise.all(ids.map((id) => f!.admin.pexpire(ttlKey(id), 50_000)));

    counted.writes = 0;
    const holders = await Promise.all(ids.map((id) => engine.sessions.refresh!(id, 'A')));
    expect(counted.writes).toBe(2);
    holders.forEach((holder, i) => expect(holder).toBe({ A: 'A', B: 'B', null: null, unknown: undefined }[String(kindOf(i))]));
    // Only the holder's refresh restarted the TTL.
    const ttls = await Promise.all(ids.map((id) => f!.admin.pttl(ttlKey(id))));
    ttls.forEach((ttl, i) => {
      if (kindOf(i) === 'A') expect(ttl).toBeGreaterThan(50_000);
      else if (kindOf(i) === 'unknown') expect(ttl).toBe(-2);
      else expect(ttl).toBeLessThanOrEqual(50_000);
    });
  });

  it('after SCRIPT FLUSH (a restarted Redis has no scripts) each call of the pipeline is answered, loading the script again', async () => {
    f = await fixture();
    const { engine } = await countedEngine(REDIS_URL, f.prefix);
    const ids = ['x1', 'x2', 'x3'];
    for (const id of ids) await engine.sessions.create(record(id), limits, 'A');
    await f.admin.script('FLUSH');
    expect(await Promise.all(ids.map((id) => engine.sessions.refresh!(id, 'A')))).toEqual(['A', 'A', 'A']);
    expect(await Promise.all(ids.map((id) => engine.sessions.refresh!(id, 'B')))).toEqual(['A', 'A', 'A']);
  });

  it('a Redis that stops answering (SIGSTOP) times every call of the pipeline out with EngineUnavailableError; they answer again after SIGCONT', async () => {
    const { port, child } = await startRedisOnFreePort();
    const { engine } = await countedEngine(`redis://127.0.0.1:${port}`, 'pipe:', 500);
    const ids = ['p1', 'p2', 'p3'];
    for (const id of ids) await engine.sessions.create(record(id), limits, 'A');
    child.kill('SIGSTOP');
    try {
      const errors = await Promise.all(ids.map((id) => engine.sessions.refresh!(id, 'A').catch((e: unknown) => e)));
      for (const error of errors) {
        expect(error).toBeInstanceOf(EngineUnavailableError);
        expect((error as Error).message).toMatch(/timed out/i);
      }
    } finally {
      child.kill('SIGCONT');
    }
    expect(await Promise.all(ids.map((id) => engine.sessions.refresh!(id, 'A')))).toEqual(['A', 'A', 'A']);
  });
});
