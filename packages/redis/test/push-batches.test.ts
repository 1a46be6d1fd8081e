import { describe, expect, it } from 'vitest';
import { AckTimeoutError, ClosedError } from '@lifeline/protocol';
import { client, gate, nextSession, startServer, urlOf } from '@lifeline/test-kit';
import type { RedisEngine } from '../src/index.js';
import { fixturePerTest, until } from './kit.js';

// On an engine with `appendMany`, a session's pushes are stored one call at a time, and the
// pushes made while a call is out go in the next (SharedOutbound). The engine is the real one;
// only `appendMany` is wrapped, to count the calls and to hold one.

const f = fixturePerTest();

function watch(engine: RedisEngine) {
  const pushes = engine.pushes as Required<RedisEngine['pushes']>;
  const inner = pushes.appendMany.bind(pushes);
  const seen = { out: 0, mostOut: 0, calls: 0, sizes: [] as number[], hold: undefined as Promise<void> | undefined };
  pushes.appendMany = async (sid, data) => {
    seen.calls++;
    seen.sizes.push(data.length);
    seen.out++;
    seen.mostOut = Math.max(seen.mostOut, seen.out);
    try {
      if (seen.hold !== undefined) await seen.hold;
      return await inner(sid, data);
    } finally {
      seen.out--;
    }
  };
  return seen;
}

/** A server on a watched engine, a client connected to it, and the client's session there. */
async function setup() {
  const engine = f().engine();
  const seen = watch(engine);
  const server = await startServer({ engine });
  const opened = nextSession(server);
  const c = client(urlOf(server));
  const got: unknown[] = [];
  c.on('message', (d: unknown) => got.push(d));
  await c.connect();
  return { seen, got, session: await opened };
}

describe('pushes on redisEngine: stored in batches, one call out', () => {
  it('1,000 session.send() at once: stored in batches of at most 64, each resolves, the client gets them once in order', async () => {
    const { seen, got, session } = await setup();
    const n = 1_000;
    await Promise.all(Array.from({ length: n }, (_, i) => session.send(i)));
    await until('every push to arrive', () => got.length >= n);
    expect(got).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(seen.mostOut).toBe(1);
    expect(Math.max(...seen.sizes)).toBeLessThanOrEqual(64);
    expect(seen.calls).toBeLessThan(n / 10);
  }, 60_000);

  it('a push whose deadline passes before its call is never stored (maybeDelivered false); one in a call that is out says maybeDelivered true', async () => {
    const { seen, got, session } = await setup();
    const held = gate();
    seen.hold = held.promise;
    const first = session.send('first', { timeoutMs: 200 }).catch((e: unknown) => e);
    await until('the first call to be out', () => seen.out === 1);
    const queued = session.send('queued', { timeoutMs: 200 }).catch((e: unknown) => e);
    const [a, b] = await Promise.all([first, queued]);
    expect(a).toBeInstanceOf(AckTimeoutError);
    expect((a as AckTimeoutError).maybeDelivered).toBe(true);
    expect(b).toBeInstanceOf(AckTimeoutError);
    expect((b as AckTimeoutError).maybeDelivered).toBe(false);
    seen.hold = undefined;
    held.open();
    // The held call lands ('first' is delivered, as maybeDelivered said it might be); 'queued' never goes.
    await session.send('after');
    expect(got).toEqual(['first', 'after']);
    expect(seen.calls).toBe(2);
  }, 30_000);

  it('the session closes with pushes waiting for a call: they reject with ClosedError, maybeDelivered false', async () => {
    const { seen, session } = await setup();
    const held = gate();
    seen.hold = held.promise;
    const first = session.send('first').catch((e: unknown) => e);
    await until('the first call to be out', () => seen.out === 1);
    const queued = session.send('queued').catch((e: unknown) => e);
    session.close();
    const b = await queued;
    expect(b).toBeInstanceOf(ClosedError);
    expect((b as ClosedError).maybeDelivered).toBe(false);
    held.open();
    // The call that was out lands after the session ended: a ClosedError too ('first' was not stored
    // either, as the session's keys were gone, so whether it says maybeDelivered depends on the order).
    expect(await first).toBeInstanceOf(ClosedError);
    expect(seen.calls).toBe(1);
  }, 30_000);
});
