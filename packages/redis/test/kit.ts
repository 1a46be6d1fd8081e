import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, beforeEach } from 'vitest';
import { closeAll } from '@lifeline/test-kit';
import { redisEngine, type RedisEngine, type RedisEngineOptions } from '../src/index.js';

// Every test runs on the real Redis at 127.0.0.1:6379 (`.ci/services.sh` starts it), under its
// own random key prefix, deleted after with SCAN + DEL on that prefix.

export const REDIS_URL = 'redis://127.0.0.1:6379';

export interface Fixture {
  readonly prefix: string;
  /** A plain client for looking at keys and for cleaning up. */
  readonly admin: Redis;
  engine(options?: Partial<RedisEngineOptions>): RedisEngine;
  cleanup(): Promise<void>;
}

export async function fixture(): Promise<Fixture> {
  const admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true, retryStrategy: () => null });
  admin.on('error', () => {});
  try {
    await admin.connect();
    await admin.ping();
  } catch (error) {
    admin.disconnect();
    throw new Error(`these tests need Redis on 127.0.0.1:6379 (run bash .ci/services.sh): ${String(error)}`);
  }
  const prefix = `lltest:${randomBytes(6).toString('hex')}:`;
  const engines: RedisEngine[] = [];
  return {
    prefix,
    admin,
    engine(options = {}) {
      const engine = redisEngine({ url: REDIS_URL, keyPrefix: prefix, ...options });
      engines.push(engine);
      return engine;
    },
    async cleanup() {
      for (const engine of engines.splice(0)) await engine.close();
      await deleteKeys(admin, prefix);
      admin.disconnect();
    },
  };
}

/**
 * A fresh fixture for each test of the calling file, torn down after it with the servers and
 * clients the test kit started: `f()` is the current test's.
 */
export function fixturePerTest(): () => Fixture {
  let current: Fixture | undefined;
  beforeEach(async () => {
    current = await fixture();
  });
  afterEach(async () => {
    await closeAll();
    await current?.cleanup();
    current = undefined;
  });
  return () => {
    if (current === undefined) throw new Error('fixturePerTest(): no test is running');
    return current;
  };
}

export async function keysOf(admin: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    found.push(...batch);
  } while (cursor !== '0');
  return found;
}

async function deleteKeys(admin: Redis, prefix: string): Promise<void> {
  const found = await keysOf(admin, prefix);
  // One DEL per key: keys of different channels may live in different Cluster slots.
  for (const key of found) await admin.del(key);
}

/** Wait until `check()` holds, polling, at most `deadlineMs`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, deadlineMs = 5_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Until the engine's client answers a cheap command (at most 10 s). A test that sets a short
 * `commandTimeoutMs` for an outage calls this first: connecting under the whole suite at once
 * can take longer than that timeout.
 */
export function warm(engine: { nodes: { alive(name: string): Promise<boolean> } }): Promise<void> {
  return until('Redis to answer the engine', () => engine.nodes.alive('warm-up').then(() => true, () => false), 10_000);
}
