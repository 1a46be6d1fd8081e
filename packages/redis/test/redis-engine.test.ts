import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClosedError } from '@lifeline/protocol';
import { ChannelLimitError, type ChannelEvent } from '@lifeline/server';
import { redisEngine } from '../src/index.js';
import { fixture, keysOf, REDIS_URL, until, type Fixture } from './kit.js';

// The behavioural cases of packages/server/test/memory-engine.test.ts that apply to Redis: the
// clock is Redis's own (no injected clock), so expiry is awaited with small TTLs and a bounded
// poll, and notifications arrive asynchronously (awaited, never assumed).

const keep = { historySize: 100, historyTtlMs: 60_000 };
let f: Fixture;

beforeEach(async () => {
  f = await fixture();
});
afterEach(async () => {
  await f.cleanup();
});

const offsets = (events: ChannelEvent[]) => events.map((e) => (e.type === 'publication' ? e.publication.offset : -1));

describe('redisEngine: publish and history', () => {
  it('numbers publications 1..N per channel, in one epoch', async () => {
    const engine = f.engine();
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await engine.publish('room:1', JSON.stringify({ i }), keep));
    await engine.publish('room:2', '"other"', keep);
    expect(results.map((r) => r.offset)).toEqual([1, 2, 3, 4, 5]);
    expect(new Set(results.map((r) => r.epoch)).size).toBe(1);
    expect(results.every((r) => !r.duplicate)).toBe(true);
    expect(await engine.position('room:1')).toEqual({ offset: 5, epoch: results[0]!.epoch });
    expect((await engine.position('room:2')).offset).toBe(1);
  });

  it('is idempotent by id: the first offset comes back, nothing is appended or notified again', async () => {
    const engine = f.engine();
    const heard: ChannelEvent[] = [];
    await engine.listen('room:1', (e) => heard.push(e));
    const first = await engine.publish('room:1', '"a"', { ...keep, id: 'order-1' });
    await engine.publish('room:1', '"b"', keep);
    const again = await engine.publish('room:1', '"a, retried"', { ...keep, id: 'order-1' });
    expect(again).toEqual({ offset: first.offset, epoch: first.epoch, duplicate: true });
    const page = await engine.history('room:1', { limit: 10 });
    expect(page.publications.map((p) => [p.offset, p.id, p.data])).toEqual([
      [1, 'order-1', '"a"'],
      [2, undefined, '"b"'],
    ]);
    // A third publication as a marker: once heard, everything before it was heard too (in order).
    await engine.publish('room:1', '"c"', keep);
    await until('the marker publication', () => heard.length >= 3);
    expect(offsets(heard)).toEqual([1, 2, 3]);
  });

  it('reads the history from an exclusive cursor, at most limit', async () => {
    const engine = f.engine();
    for (let i = 1; i <= 10; i++) await engine.publish('c', String(i), keep);
    const page = await engine.history('c', { since: 3, limit: 4 });
    expect(page.publications.map((p) => p.data)).toEqual(['4', '5', '6', '7']);
    expect(page.offset).toBe(10);
    const at = page.publications.map((p) => p.publishedAt);
    expect(at).toEqual([...at].sort((a, b) => a - b));
    expect(Math.abs(at[0]! - Date.now())).toBeLessThan(60_000); // Redis's clock, in ms since the epoch
    expect((await engine.history('c', { since: 10, limit: 4 })).publications).toEqual([]);
    expect((await engine.history('c', { limit: 0 })).publications).toEqual([]);
    expect((await engine.history('c', { since: 8, limit: 100 })).publications.map((p) => p.offset)).toEqual([9, 10]);
  });

  it('historySize 0 keeps nothing, but the offset still advances', async () => {
    const engine = f.engine();
    await engine.publish('c', '1', { historySize: 0, historyTtlMs: 60_000 });
    expect(await engine.publish('c', '2', { historySize: 0, historyTtlMs: 60_000 })).toMatchObject({ offset: 2 });
    expect((await engine.history('c', { limit: 10 })).publications).toEqual([]);
  });

  it('refuses bad arguments with a TypeError', async () => {
    const engine = f.engine();
    await expect(engine.publish('', '1', keep)).rejects.toThrow(TypeError);
    await expect(engine.publish('c', '1', { ...keep, id: '' })).rejects.toThrow(TypeError);
    await expect(engine.publish('c', '1', { historySize: -1, historyTtlMs: 1 })).rejects.toThrow(TypeError);
    await expect(engine.publish('c', '1', { historySize: 1, historyTtlMs: Infinity })).rejects.toThrow(TypeError);
    await expect(engine.history('c', { limit: -1 })).rejects.toThrow(TypeError);
    await expect(engine.history('c', { since: 1.5, limit: 1 })).rejects.toThrow(TypeError);
    expect(() => redisEngine({ url: REDIS_URL, keyPrefix: 'a{b' })).toThrow(TypeError);
    expect(() => redisEngine({} as never)).toThrow(TypeError);
    expect(() => redisEngine({ url: REDIS_URL, positionTtlMs: -1 })).toThrow(TypeError);
  });
});

describe('redisEngine: bounds and expiry', () => {
  it('keeps at most historySize publications, oldest evicted first, with their ids', async () => {
    const engine = f.engine();
    for (let i = 1; i <= 5; i++) await engine.publish('c', String(i), { historySize: 3, historyTtlMs: 60_000, id: `id-${i}` });
    expect((await engine.history('c', { limit: 10 })).publications.map((p) => p.offset)).toEqual([3, 4, 5]);
    expect(await engine.publish('c', '1', { historySize: 3, historyTtlMs: 60_000, id: 'id-1' })).toMatchObject({ offset: 6, duplicate: false });
    expect(await engine.publish('c', '5', { historySize: 3, historyTtlMs: 60_000, id: 'id-5' })).toMatchObject({ offset: 5, duplicate: true });
    // The id index holds only the ids still in the log.
    const ids = await f.admin.hkeys(`${f.prefix}{c}:ids`);
    expect(ids.sort()).toEqual(['id-1', 'id-4', 'id-5']);
  });

  it('keeps at most maxHistoryBytes per channel, and refuses a publication larger than that', async () => {
    const engine = f.engine({ maxHistoryBytes: 1_000 });
    const data = JSON.stringify('x'.repeat(200)); // 202 bytes + the entry overhead (64)
    for (let i = 0; i < 10; i++) await engine.publish('c', data, keep);
    expect((await engine.history('c', { limit: 100 })).publications.map((p) => p.offset)).toEqual([8, 9, 10]);
    expect(Number(await f.admin.hget(`${f.prefix}{c}:meta`, 'b'))).toBe(3 * 266);
    const error = await engine.publish('c', JSON.stringify('y'.repeat(2_000)), keep).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChannelLimitError);
    expect(error).toMatchObject({ code: 'ERR_CHANNEL_LIMIT', limit: 'bytes' });
    expect((await engine.position('c')).offset).toBe(10);
  });

  it('expires publications older than historyTtlMs; the position outlives them (grace period)', async () => {
    const engine = f.engine();
    const ttl = { historySize: 100, historyTtlMs: 200 };
    const first = await engine.publish('c', '1', ttl);
    await engine.publish('c', '2', ttl);
    await until('the history to expire', async () => (await engine.history('c', { limit: 10 })).publications.length === 0);
    const page = await engine.history('c', { limit: 10 });
    expect(page.offset).toBe(2);
    expect(await engine.publish('c', '3', ttl)).toMatchObject({ offset: 3, epoch: first.epoch });
  });

  it('when every key of a channel is gone, the next publication opens a new epoch at offset 1; nothing is left behind', async () => {
    const engine = f.engine({ positionTtlMs: 300 });
    const ttl = { historySize: 100, historyTtlMs: 200 };
    const first = await engine.publish('c', '1', { ...ttl, id: 'x' });
    await engine.publish('c', '2', ttl);
    expect((await keysOf(f.admin, f.prefix)).length).toBeGreaterThan(0);
    // Redis expires every key by itself: nothing grows forever.
    await until('every key to expire', async () => (await keysOf(f.admin, f.prefix)).length === 0);
    const next = await engine.publish('c', '3', { ...ttl, id: 'x' });
    expect(next).toMatchObject({ offset: 1, duplicate: false });
    expect(next.epoch).not.toBe(first.epoch);
    expect((await engine.history('c', { since: 2, limit: 10 })).epoch).toBe(next.epoch);
  });

  it('a lost position with a surviving log (evicted meta) opens a new epoch and drops the old history', async () => {
    const engine = f.engine();
    const first = await engine.publish('c', '1', keep);
    await f.admin.del(`${f.prefix}{c}:meta`);
    const next = await engine.publish('c', '2', keep);
    expect(next.offset).toBe(1);
    expect(next.epoch).not.toBe(first.epoch);
    expect((await engine.history('c', { limit: 10 })).publications.map((p) => p.data)).toEqual(['2']);
  });

  it('every key carries a time to live', async () => {
    const engine = f.engine();
    await engine.publish('c', '1', { ...keep, id: 'a' });
    await engine.presenceAdd('c', { clientId: 'x', sessionId: 's' }, 10_000);
    const found = await keysOf(f.admin, f.prefix);
    expect(found.sort()).toEqual(['ids', 'log', 'meta', 'pd', 'pm'].map((k) => `${f.prefix}{c}:${k}`));
    for (const key of found) expect(await f.admin.pttl(key)).toBeGreaterThan(0);
  });
});

describe('redisEngine: Redis memory under a publication flood', () => {
  it('20,000 distinct 1 KiB publications with ids into one channel keep historySize entries and ids (Redis memory printed)', async () => {
    const engine = f.engine();
    const pad = 'p'.repeat(1_000);
    const opts = { historySize: 100, historyTtlMs: 600_000 };
    const batch = 500;
    for (let i = 0; i < 20_000; i += batch) {
      await Promise.all(Array.from({ length: batch }, (_, j) => engine.publish('flood', JSON.stringify({ i: i + j, pad }), { ...opts, id: `id-${i + j}` })));
    }
    const log = `${f.prefix}{flood}:log`;
    const ids = `${f.prefix}{flood}:ids`;
    const used = Number(await f.admin.call('MEMORY', 'USAGE', log)) + Number(await f.admin.call('MEMORY', 'USAGE', ids));
    console.log(`redisEngine flood: ${(20_000 * 1_020) >> 20} MiB published, ${await f.admin.xlen(log)} entries and ${await f.admin.hlen(ids)} ids kept, ${(used / 1024).toFixed(0)} KiB in Redis`);
    expect(await f.admin.xlen(log)).toBe(100);
    expect(await f.admin.hlen(ids)).toBe(100);
    expect(Number(await f.admin.hget(`${f.prefix}{flood}:meta`, 'b'))).toBeLessThanOrEqual(100 * 1_100);
    // Unbounded, this is ~20 MiB; bounded, 100 entries of ~1 KiB plus Redis's own overhead.
    expect(used).toBeLessThan(1 << 20);
    expect((await engine.position('flood')).offset).toBe(20_000);
  });
});

describe('redisEngine: listeners across nodes', () => {
  it('two engines on one Redis: a publication on one reaches the other, once, in order; unlisten stops it', async () => {
    const a = f.engine();
    const b = f.engine();
    const heardA: ChannelEvent[] = [];
    const heardB: ChannelEvent[] = [];
    await a.listen('c', (e) => heardA.push(e));
    const unlistenB = await b.listen('c', (e) => heardB.push(e));
    const other: ChannelEvent[] = [];
    await b.listen('d', (e) => other.push(e));
    const results = [];
    for (let i = 1; i <= 200; i++) results.push(await (i % 2 === 0 ? a : b).publish('c', JSON.stringify({ i }), { historySize: 1_000, historyTtlMs: 60_000, id: `p${i}` }));
    await until('node b to hear 200', () => heardB.length >= 200);
    await until('node a to hear 200', () => heardA.length >= 200);
    const expected = Array.from({ length: 200 }, (_, i) => i + 1);
    expect(offsets(heardA)).toEqual(expected);
    expect(offsets(heardB)).toEqual(expected);
    const first = heardB[0] as Extract<ChannelEvent, { type: 'publication' }>;
    expect(first).toMatchObject({ type: 'publication', channel: 'c', epoch: results[0]!.epoch, publication: { offset: 1, id: 'p1', data: '{"i":1}' } });
    const [stored] = (await b.history('c', { limit: 1 })).publications;
    expect(first.publication).toEqual(stored);
    await unlistenB();
    await unlistenB();
    expect(b.listenedCount).toBe(1);
    await a.publish('c', '"after"', keep);
    await until('node a to hear the last', () => heardA.length === 201);
    expect(heardB).toHaveLength(200);
    expect(other).toEqual([]);
  });

  it('a throwing listener does not stop the others; its error goes to onError', async () => {
    const errors: unknown[] = [];
    const engine = f.engine({ onError: (e) => errors.push(e) });
    const heard: number[] = [];
    await engine.listen('c', () => {
      throw new Error('listener bug');
    });
    await engine.listen('c', (e) => heard.push(e.type === 'publication' ? e.publication.offset : -1));
    await engine.publish('c', '1', keep);
    await engine.publish('c', '2', keep);
    await until('both publications', () => heard.length === 2);
    expect(heard).toEqual([1, 2]);
    expect(errors).toHaveLength(2);
  });

  it('a listening node keeps the channel position past positionTtlMs', async () => {
    // The TTL is 1.1 s, twenty sweeps long: a loaded machine once delayed the sweeps of a 300 ms
    // TTL past it (a fresh clone's full npm test), and the position rightly expired.
    const engine = f.engine({ positionTtlMs: 1_000, sweepIntervalMs: 50 });
    await engine.listen('c', () => {});
    const { epoch } = await engine.publish('c', '1', { historySize: 10, historyTtlMs: 100 });
    const meta = `${f.prefix}{c}:meta`;
    // Outlive the position's own TTL (1.1 s) three times over: the sweep keeps it.
    const end = Date.now() + 3_300;
    await until('3.3 s of sweeps', () => Date.now() > end, 6_000);
    expect(await f.admin.exists(meta)).toBe(1);
    expect(await engine.publish('c', '2', keep)).toMatchObject({ offset: 2, epoch });
  });
});

describe('redisEngine: presence', () => {
  const ann = { clientId: 'c-ann', sessionId: 's-1', identity: { user: 'ann' } };
  const bob = { clientId: 'c-bob', sessionId: 's-2' };
  const names = (events: ChannelEvent[]) => events.map((e) => `${e.type}:${e.type === 'publication' ? '' : e.member.clientId}`);

  it('adds, lists and removes members, with join and leave heard on another node', async () => {
    const a = f.engine();
    const b = f.engine();
    const heard: ChannelEvent[] = [];
    await b.listen('room', (e) => heard.push(e));
    await a.presenceAdd('room', ann, 30_000);
    await a.presenceAdd('room', bob, 30_000);
    await a.presenceAdd('room', ann, 30_000); // a refresh: no second join
    expect(await b.presence('room')).toEqual([ann, bob]);
    await a.presenceRemove('room', 'c-ann');
    await a.presenceRemove('room', 'c-ann'); // gone already: no second leave
    expect(await b.presence('room')).toEqual([bob]);
    await a.presenceRemove('room', 'c-bob');
    await until('four events', () => heard.length >= 4);
    expect(names(heard)).toEqual(['join:c-ann', 'join:c-bob', 'leave:c-ann', 'leave:c-bob']);
    expect(await a.presence('nobody-here')).toEqual([]);
  });

  it('expires members past their time to live, with a leave (on read, and by the sweep of a listening node); a refresh keeps them', async () => {
    const engine = f.engine({ sweepIntervalMs: 50 });
    const leaves: string[] = [];
    await engine.listen('room', (e) => {
      if (e.type === 'leave') leaves.push(e.member.clientId);
    });
    await engine.presenceAdd('room', ann, 150);
    await engine.presenceAdd('room', bob, 60_000);
    await until('ann to expire', async () => (await engine.presence('room')).length === 1);
    expect(await engine.presence('room')).toEqual([bob]);
    await until('the leave of ann', () => leaves.length === 1);
    await engine.presenceAdd('room', bob, 150);
    // Nobody reads now: the sweep of the listening node finds bob expired.
    await until('the leave of bob', () => leaves.length === 2, 3_000);
    expect(leaves).toEqual(['c-ann', 'c-bob']);
  });

  it('bounds the members of a channel', async () => {
    const engine = f.engine({ maxMembers: 2 });
    await engine.presenceAdd('room', ann, 1_000);
    await engine.presenceAdd('room', bob, 1_000);
    await expect(engine.presenceAdd('room', { clientId: 'c-3', sessionId: 's-3' }, 1_000)).rejects.toMatchObject({ code: 'ERR_CHANNEL_LIMIT', limit: 'members' });
    await engine.presenceAdd('room', ann, 1_000); // refreshing a member is not a new one
  });
});

describe('redisEngine: client and close', () => {
  it('runs on a client the app gives, and leaves it open on close', async () => {
    const engine = redisEngine({ client: f.admin, keyPrefix: f.prefix });
    expect(await engine.publish('c', '1', keep)).toMatchObject({ offset: 1 });
    await engine.close();
    expect(await f.admin.ping()).toBe('PONG');
  });

  it('rejects every call with ClosedError afterwards, and close is idempotent', async () => {
    const engine = f.engine();
    const unlisten = await engine.listen('c', () => {});
    await engine.publish('c', '1', keep);
    await engine.close();
    await engine.close();
    for (const call of [
      () => engine.publish('c', '1', keep),
      () => engine.history('c', { limit: 1 }),
      () => engine.position('c'),
      () => engine.listen('c', () => {}),
      () => engine.presenceAdd('c', { clientId: 'x', sessionId: 'y' }, 1),
      () => engine.presenceRemove('c', 'x'),
      () => engine.presence('c'),
    ]) {
      await expect(call()).rejects.toThrow(ClosedError);
    }
    await unlisten();
  });
});
