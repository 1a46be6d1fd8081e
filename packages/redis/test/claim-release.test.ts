import { describe, expect, it } from 'vitest';
import type { HandlerContext, LifelineServer } from '@lifeline/server';
import { client, gate, nextEvent, onCleanup, startProxy, startServer } from '@lifeline/test-kit';
import { redisEngine, type RedisEngine } from '../src/index.js';
import { fixturePerTest, keysOf, until } from './kit.js';

// A claim whose reply is held past commandTimeoutMs still runs in Redis once it answers again
// (the command was queued behind the silence). Node A reaches Redis through a proxy that holds
// every byte; node B goes straight to Redis. The claim A recorded but never ran must not stall
// the session: A releases it once Redis answers, or takes it back when the client returns.

const f = fixturePerTest();

const COMMAND_TIMEOUT_MS = 300;

interface Setup {
  readonly a: LifelineServer;
  readonly b: LifelineServer;
  readonly redisProxy: Awaited<ReturnType<typeof startProxy>>;
  /** A's engine, through the proxy. */
  readonly engineA: RedisEngine;
  /** Each id handled, with the nodes that handled it. */
  readonly handled: Map<string, string[]>;
  /** Engine failures A reported. */
  readonly errors: unknown[];
  /** Ids of the messages A received. */
  readonly received: string[];
}

/** `slow`: a message whose data is 'slow' waits for it in its handler. */
async function setup(slow?: Promise<unknown>): Promise<Setup> {
  const redisProxy = await startProxy(6379);
  const held = redisEngine({ url: `redis://127.0.0.1:${redisProxy.port}`, keyPrefix: f().prefix, commandTimeoutMs: COMMAND_TIMEOUT_MS, onError: () => {} });
  onCleanup(() => held.close());
  const handled = new Map<string, string[]>();
  const handler = (name: string) => async (data: unknown, ctx: HandlerContext) => {
    handled.set(ctx.id, [...(handled.get(ctx.id) ?? []), ctx.redelivered ? `${name} (redelivered)` : name]);
    if (data === 'slow') await slow;
    return data;
  };
  const received: string[] = [];
  const a = await startServer({ engine: held, nodeTimeoutMs: 5_000, overloadRetryMs: 20, handler: handler('a'), plugins: [{ name: 'received', onReceive: (e) => void received.push(e.id) }] });
  const b = await startServer({ engine: f().engine(), nodeTimeoutMs: 5_000, overloadRetryMs: 20, handler: handler('b') });
  const errors: unknown[] = [];
  a.on('error', (e) => errors.push(e));
  b.on('error', () => {});
  return { a, b, redisProxy, engineA: held, handled, errors, received };
}

/** A client on node A, through a proxy that can later send it to B. */
async function clientOnA(s: Setup) {
  const proxy = await startProxy(s.a.port);
  const c = client(proxy.url(), { ackTimeoutMs: 20_000 });
  await c.connect();
  return { proxy, c };
}

/**
 * Once A's engine has answered its next command (so whatever timed out before it has run in
 * Redis), let the client reach B, and wait for it to resume there.
 */
async function resumeOnB(s: Setup, proxy: Awaited<ReturnType<typeof startProxy>>, c: ReturnType<typeof client>): Promise<void> {
  await s.engineA.sessions.get('nobody');
  const resumed = nextEvent(c, 'resumed', 10_000);
  proxy.setTarget({ port: s.b.port });
  proxy.refuse(false);
  await resumed;
}

/** The claims still held in Redis (a running claim is a `c<seq>` field of a session's hash), and how many sessions there are. */
async function claimsLeft(): Promise<{ sessions: number; claims: string[] }> {
  const records = (await keysOf(f().admin, f().prefix)).filter((k) => k.endsWith(':r'));
  const claims: string[] = [];
  for (const key of records) claims.push(...(await f().admin.hkeys(key)).filter((field) => /^c\d+$/.test(field)));
  return { sessions: records.length, claims };
}

/**
 * 20 more sends after the held one; each of the 22 (m1, m2, n0..n19) resolves with its result and
 * is handled once, m2 on `m2On`.
 */
async function twentyMoreEachOnce(s: Setup, c: ReturnType<typeof client>, held: Promise<unknown>, m2On: 'a' | 'b'): Promise<void> {
  const after = Array.from({ length: 20 }, (_, i) => c.send(i, { id: `n${i}` }));
  expect(await held).toBe('held');
  expect(await Promise.all(after)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  expect(s.handled.get('m2')).toEqual([m2On]);
  expect([...s.handled.values()].every((nodes) => nodes.length === 1)).toBe(true);
  expect(s.handled.size).toBe(22);
}

/** Hold A's Redis until a claim made during the hold has timed out on A, then let Redis answer. */
async function claimTimesOut(s: Setup, send: () => Promise<unknown>): Promise<{ sent: Promise<unknown> }> {
  s.redisProxy.hold();
  const before = s.errors.length;
  const sent = send();
  await until('the claim to time out on A', () => s.errors.slice(before).some((e) => String((e as Error).cause).includes('sessions.claim')), 5_000);
  s.redisProxy.hold(false);
  // Wrapped: an async function returning the promise itself would wait for it.
  return { sent };
}

describe('a claim whose reply is held past commandTimeoutMs, then Redis answers', () => {
  it('on the same node: the session continues, every message handled once', async () => {
    const s = await setup();
    const { c } = await clientOnA(s);
    expect(await c.send('first', { id: 'm1' })).toBe('first');
    const { sent: held } = await claimTimesOut(s, () => c.send('held', { id: 'm2' }));
    await twentyMoreEachOnce(s, c, held, 'a');
  }, 30_000);

  it('after moving to another node: the session continues there, every message handled once', async () => {
    const s = await setup();
    const { proxy, c } = await clientOnA(s);
    expect(await c.send('first', { id: 'm1' })).toBe('first');
    // The client cannot come back to A: the next node it reaches is B.
    proxy.refuse(true);
    const { sent: held } = await claimTimesOut(s, () => c.send('held', { id: 'm2' }));
    // A's next command runs after the claim that timed out: once it is answered, Redis holds (or
    // held) that claim for A, recorded after A gave up on it.
    await resumeOnB(s, proxy, c);
    await twentyMoreEachOnce(s, c, held, 'b');
    // Nothing is left claimed.
    const left = await claimsLeft();
    expect(left.sessions).toBeGreaterThan(0);
    expect(left.claims).toEqual([]);
  }, 30_000);

  it("a batch's call (its completes and the next batch's claims) held past the timeout: the claims are released, the session continues on another node, every message handled once", async () => {
    const first = gate();
    const s = await setup(first.promise);
    const { proxy, c } = await clientOnA(s);
    const slow = c.send('slow', { id: 'm1' });
    await until("m1's handler to start on A", () => s.handled.has('m1'), 5_000);
    // Queued behind m1: claimed in one call with m1's complete.
    const queued = Array.from({ length: 10 }, (_, i) => c.send(i, { id: `n${i}` }));
    await until('A to receive them', () => s.received.includes('n9'), 5_000);
    proxy.refuse(true);
    s.redisProxy.hold();
    const before = s.errors.length;
    first.open();
    await until('the batch call to time out on A', () => s.errors.slice(before).some((e) => String((e as Error).cause).includes('sessions.completeThenClaimMany')), 5_000);
    s.redisProxy.hold(false);
    await resumeOnB(s, proxy, c);
    expect(await slow).toBe('slow');
    expect(await Promise.all(queued)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(s.handled.get('m1')).toEqual(['a']);
    // Claimed by A, never run there, released: first deliveries on B.
    for (let i = 0; i < 10; i++) expect(s.handled.get(`n${i}`)).toEqual(['b']);
    expect((await claimsLeft()).claims).toEqual([]);
  }, 30_000);
});
