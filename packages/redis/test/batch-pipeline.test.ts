import { describe, expect, it } from 'vitest';
import type { HandlerContext } from '@lifeline/server';
import { client, startProxy, startServer, urlOf } from '@lifeline/test-kit';
import type { RedisEngine } from '../src/index.js';
import { fixturePerTest } from './kit.js';

// A session's loop keeps one batch call out ahead (SharedInbound): while a batch's handlers run,
// the call that records the batch before and claims the batch after is already in Redis. The
// engine here is the real one; only its batch method is wrapped, to see the calls overlap.

const f = fixturePerTest();

/** Counts the batch calls out at once, and the handlers that ran while one was out. */
function watch(engine: RedisEngine) {
  const sessions = engine.sessions as Required<RedisEngine['sessions']>;
  const inner = sessions.completeThenClaimMany.bind(sessions);
  const seen = { out: 0, mostOut: 0, calls: 0 };
  sessions.completeThenClaimMany = async (...args) => {
    seen.calls++;
    seen.out++;
    seen.mostOut = Math.max(seen.mostOut, seen.out);
    try {
      return await inner(...args);
    } finally {
      seen.out--;
    }
  };
  return seen;
}

describe('batches on redisEngine: one call out ahead', () => {
  it('2,000 sends at once: handlers run once each in seq order while the next batch call is out, and never more than two calls are out', async () => {
    const engine = f().engine();
    const seen = watch(engine);
    const order: number[] = [];
    let handledWhileOut = 0;
    const server = await startServer({
      engine,
      handler: (data: unknown, _ctx: HandlerContext) => {
        if (seen.out > 0) handledWhileOut++;
        order.push(data as number);
        return data;
      },
    });
    const c = client(urlOf(server));
    await c.connect();
    const n = 2_000;
    const results = await Promise.all(Array.from({ length: n }, (_, i) => c.send(i, { id: `m${i}` })));
    expect(results).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(order).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(seen.mostOut).toBe(2);
    expect(handledWhileOut).toBeGreaterThan(n / 2);
    expect(seen.out).toBe(0);
  }, 60_000);

  it('the connection leaves with a batch call out: what that call claimed is released, and the next connection has every message handled once', async () => {
    const engine = f().engine();
    const seen = watch(engine);
    const handled = new Map<string, number>();
    let closeAt: (() => void) | undefined;
    const server = await startServer({
      engine,
      handler: (data: unknown, ctx: HandlerContext) => {
        handled.set(ctx.id, (handled.get(ctx.id) ?? 0) + 1);
        // Mid-stream, the first time a handler runs with a batch call out: the connection is cut.
        if ((data as number) >= 300 && seen.out > 0) closeAt?.();
        return data;
      },
    });
    const proxy = await startProxy(server.port);
    const c = client(proxy.url());
    await c.connect();
    closeAt = () => {
      closeAt = undefined;
      proxy.cutAll();
    };
    const n = 1_000;
    const results = await Promise.all(Array.from({ length: n }, (_, i) => c.send(i, { id: `m${i}` })));
    expect(results).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(closeAt).toBeUndefined();
    expect(handled.size).toBe(n);
    expect([...handled.values()].every((count) => count === 1)).toBe(true);
    // Nothing is left claimed: every claim field of the session is gone.
    const admin = f().admin;
    let cursor = '0';
    const claims: string[] = [];
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${f().prefix}s{*}:r`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) claims.push(...(await admin.hkeys(key)).filter((field) => /^c\d+$/.test(field)));
    } while (cursor !== '0');
    expect(claims).toEqual([]);
  }, 60_000);
});
