import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { EngineUnavailableError, redisEngine, type RedisEngine } from '../src/index.js';
import { until, warm } from './kit.js';
import { killRedisServers, startRedis, startRedisOnFreePort } from './own-redis.js';

// A redis-server of this test's own, on a free port, killed and started again: the engine's
// calls reject with a typed error while it is gone, the process goes on, and calls work again
// by themselves once it is back.

const engines: RedisEngine[] = [];

afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.close();
  killRedisServers();
});

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

describe('redisEngine: Redis killed and restarted', () => {
  it('rejects with EngineUnavailableError while Redis is gone, never crashes, and works again by itself after a restart', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const started = await startRedisOnFreePort();
      const port = started.port;
      let server = started.child;
      const errors: unknown[] = [];
      const engine = redisEngine({ url: `redis://127.0.0.1:${port}`, keyPrefix: 'outage:', commandTimeoutMs: 500, sweepIntervalMs: 50, onError: (e) => errors.push(e) });
      engines.push(engine);
      const heard: number[] = [];
      // The first call connects the engine's clients and loads its scripts: under the whole
      // suite at once that passed the 500 ms meant for the outage (a fresh-clone npm test). A
      // failed listen leaves nothing behind, so it is tried again, for at most 10 s.
      await until(
        'the engine to listen',
        () =>
          engine
            .listen('c', (e) => {
              if (e.type === 'publication') heard.push(e.publication.offset);
            })
            .then(
              () => true,
              () => false,
            ),
        10_000,
      );
      const keep = { historySize: 100, historyTtlMs: 60_000 };
      const before = await engine.publish('c', '1', keep);
      expect(before.offset).toBe(1);
      // Heard before Redis goes: a listener may still be reading it when the process is killed
      // (a fresh-clone npm test under four suites at once heard 3 first), and the restart loses it.
      await until('the listener to hear the publication made before the outage', () => heard.includes(1));

      await stop(server);
      const error = await engine.publish('c', '2', keep).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EngineUnavailableError);
      expect(error).toMatchObject({ code: 'ERR_ENGINE_UNAVAILABLE', name: 'EngineUnavailableError' });
      expect((error as Error).cause).toBeDefined();
      await expect(engine.history('c', { limit: 10 })).rejects.toBeInstanceOf(EngineUnavailableError);
      await expect(engine.presence('c')).rejects.toBeInstanceOf(EngineUnavailableError);
      // The listening node's sweep fails too while Redis is gone: reported, not thrown.
      await until('the sweep failure to be reported', () => errors.some((e) => e instanceof EngineUnavailableError));

      server = await startRedis(port);
      // No call to reconnect: the client does it by itself, and calls succeed again. The restart
      // lost the history (no persistence), so the position opens a new epoch at offset 1.
      let after: Awaited<ReturnType<RedisEngine['publish']>> | undefined;
      await until(
        'a publish to succeed after the restart',
        async () => {
          after = await engine.publish('c', '3', keep).catch(() => undefined);
          return after !== undefined;
        },
        10_000,
      );
      expect(after).toMatchObject({ offset: 1, duplicate: false });
      expect(after!.epoch).not.toBe(before.epoch);
      // The subscriber re-subscribed by itself: the listener hears publications again.
      await until('the listener to hear a publication after the restart', async () => {
        await engine.publish('c', '4', keep);
        return heard.length >= 2;
      });
      expect(heard[0]).toBe(1);
      expect(heard.slice(1).every((o, i, all) => i === 0 || o > all[i - 1]!)).toBe(true);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('a Redis that stops answering (SIGSTOP) times the call out with EngineUnavailableError; it answers again after SIGCONT', async () => {
    const { port, child: server } = await startRedisOnFreePort();
    const engine = redisEngine({ url: `redis://127.0.0.1:${port}`, keyPrefix: 'silent:', commandTimeoutMs: 2_000, onError: () => {} });
    engines.push(engine);
    await warm(engine);
    const keep = { historySize: 100, historyTtlMs: 60_000 };
    const first = await engine.publish('c', '1', keep);
    server.kill('SIGSTOP');
    try {
      const error = await engine.publish('c', '2', keep).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EngineUnavailableError);
      expect((error as Error).message).toMatch(/timed out/i);
    } finally {
      server.kill('SIGCONT');
    }
    // The timed-out publish may have run once Redis woke (its outcome was unknown, never "not
    // stored"); an idempotency id is how a caller retries such a call safely.
    let next: Awaited<ReturnType<RedisEngine['publish']>> | undefined;
    await until('a publish to succeed after SIGCONT', async () => {
      next = await engine.publish('c', '3', { ...keep, id: 'retry-safe' }).catch(() => undefined);
      return next !== undefined;
    });
    expect(next!.epoch).toBe(first.epoch);
    expect(await engine.publish('c', '3', { ...keep, id: 'retry-safe' })).toMatchObject({ offset: next!.offset, duplicate: true });
  });

  it('session state: every call rejects with EngineUnavailableError while Redis is gone; after a restart without persistence the session is unknown (the client reports session-lost)', async () => {
    const started = await startRedisOnFreePort();
    const port = started.port;
    let server = started.child;
    const engine = redisEngine({ url: `redis://127.0.0.1:${port}`, keyPrefix: 'outage-s:', commandTimeoutMs: 500, onError: () => {} });
    engines.push(engine);
    await warm(engine);
    const limits = { ttlMs: 60_000, results: 10, resultChars: 1_000, pushes: 10, pushChars: 1_000 };
    const record = { id: 's1', tokenHash: 'a'.repeat(64), previousTokenHash: null, identityHash: 'i'.repeat(64), expiresAt: null };
    await engine.nodes.heartbeat('A', 60_000);
    expect(await engine.sessions.create(record, limits, 'A')).toBe(true);
    expect(await engine.sessions.claim('s1', 1, 'm1', 'A')).toEqual({ status: 'claimed', redelivered: false });

    await stop(server);
    // Nothing is reported as recorded that was not: each call's outcome is unknown, and says so.
    for (const call of [
      () => engine.sessions.complete('s1', 1, 'A', { error: false, data: '1' }),
      () => engine.sessions.claim('s1', 2, 'm2', 'A'),
      () => engine.sessions.get('s1'),
      () => engine.pushes.append('s1', 'p'),
      () => engine.nodes.heartbeat('A', 60_000),
    ]) {
      await expect(call()).rejects.toBeInstanceOf(EngineUnavailableError);
    }

    server = await startRedis(port);
    let after: Awaited<ReturnType<RedisEngine['sessions']['claim']>> | undefined;
    await until(
      'a claim to be answered after the restart',
      async () => {
        after = await engine.sessions.claim('s1', 2, 'm2', 'A').catch(() => undefined);
        return after !== undefined;
      },
      10_000,
    );
    expect(after).toEqual({ status: 'unknown-session' });
    expect(await engine.sessions.get('s1')).toBeUndefined();
    await stop(server);
  });
});
