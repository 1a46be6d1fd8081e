import v8 from 'node:v8';
import vm from 'node:vm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ClosedError } from '@lifeline/protocol';
import { ChannelLimitError, type ChannelEvent } from '../src/engine/engine.js';
import { memoryEngine, type MemoryEngine, type MemoryEngineOptions } from '../src/engine/memory-engine.js';

// The memory engine without sockets or sleeps: an injected clock moves time, `sweep()` stands in
// for the shared timer (disabled here with `sweepIntervalMs: Infinity`).

const keep = { historySize: 100, historyTtlMs: 60_000 };
const engines: MemoryEngine[] = [];

function setup(options: MemoryEngineOptions = {}) {
  const clock = { now: 1_000_000 };
  const engine = memoryEngine({ now: () => clock.now, sweepIntervalMs: Infinity, ...options });
  engines.push(engine);
  return { engine, clock };
}

afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.close();
});

describe('memoryEngine: publish and history', () => {
  it('numbers publications 1..N per channel, in one epoch', async () => {
    const { engine } = setup();
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
    const { engine } = setup();
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
    expect(heard).toHaveLength(2);
  });

  it('reads the history from an exclusive cursor, at most limit', async () => {
    const { engine, clock } = setup();
    for (let i = 1; i <= 10; i++) {
      clock.now += 1;
      await engine.publish('c', String(i), keep);
    }
    const page = await engine.history('c', { since: 3, limit: 4 });
    expect(page.publications.map((p) => p.offset)).toEqual([4, 5, 6, 7]);
    expect(page.publications[0]).toMatchObject({ data: '4', publishedAt: 1_000_004 });
    expect(page.offset).toBe(10);
    expect((await engine.history('c', { limit: 2 })).publications.map((p) => p.offset)).toEqual([1, 2]);
    expect((await engine.history('c', { since: 10, limit: 5 })).publications).toEqual([]);
    expect((await engine.history('c', { since: 99, limit: 5 })).publications).toEqual([]);
    const positionOnly = await engine.history('c', { since: 0, limit: 0 });
    expect(positionOnly).toEqual({ publications: [], offset: 10, epoch: page.epoch });
  });

  it('a channel never published to has offset 0 and keeps its epoch for its first publication', async () => {
    const { engine } = setup();
    const before = await engine.position('fresh');
    expect(before.offset).toBe(0);
    expect(await engine.position('fresh')).toEqual(before);
    const published = await engine.publish('fresh', '1', keep);
    expect(published).toEqual({ offset: 1, epoch: before.epoch, duplicate: false });
  });

  it('refuses bad arguments with a TypeError', async () => {
    const { engine } = setup();
    await expect(engine.publish('', '1', keep)).rejects.toThrow(TypeError);
    await expect(engine.publish('x'.repeat(256), '1', keep)).rejects.toThrow(TypeError);
    await expect(engine.publish('c', 1 as unknown as string, keep)).rejects.toThrow(TypeError);
    await expect(engine.publish('c', '1', { ...keep, id: '' })).rejects.toThrow(TypeError);
    await expect(engine.publish('c', '1', { ...keep, id: 'i'.repeat(129) })).rejects.toThrow(TypeError);
    await expect(engine.publish('c', '1', { historySize: -1, historyTtlMs: 1 })).rejects.toThrow(TypeError);
    await expect(engine.publish('c', '1', { historySize: 1, historyTtlMs: 0 })).rejects.toThrow(TypeError);
    await expect(engine.publish('c', '1', { historySize: 1, historyTtlMs: Infinity })).rejects.toThrow(TypeError);
    await expect(engine.history('c', { limit: -1 })).rejects.toThrow(TypeError);
    await expect(engine.history('c', { since: 1.5, limit: 1 })).rejects.toThrow(TypeError);
    expect(() => memoryEngine({ maxChannels: 0 })).toThrow(TypeError);
    expect(() => memoryEngine({ positionTtlMs: -1 })).toThrow(TypeError);
    expect(() => memoryEngine({ maxBytes: 1.5 })).toThrow(TypeError);
  });
});

describe('memoryEngine: bounds', () => {
  it('keeps at most historySize publications, oldest evicted first, with their ids', async () => {
    const { engine } = setup();
    for (let i = 1; i <= 5; i++) await engine.publish('c', String(i), { historySize: 3, historyTtlMs: 60_000, id: `id-${i}` });
    const page = await engine.history('c', { limit: 10 });
    expect(page.publications.map((p) => p.offset)).toEqual([3, 4, 5]);
    // The evicted id is forgotten with its entry: publishing it again is a new publication.
    expect(await engine.publish('c', '1', { historySize: 3, historyTtlMs: 60_000, id: 'id-1' })).toMatchObject({ offset: 6, duplicate: false });
    expect(await engine.publish('c', '5', { historySize: 3, historyTtlMs: 60_000, id: 'id-5' })).toMatchObject({ offset: 5, duplicate: true });
  });

  it('keeps at most maxHistoryBytes per channel, and refuses a publication larger than that', async () => {
    const { engine } = setup({ maxHistoryBytes: 1_000 });
    const data = JSON.stringify('x'.repeat(200)); // 202 characters + the entry overhead
    for (let i = 0; i < 10; i++) await engine.publish('c', data, keep);
    const kept = (await engine.history('c', { limit: 100 })).publications;
    expect(kept.map((p) => p.offset)).toEqual([8, 9, 10]);
    expect(engine.historyBytes).toBeLessThanOrEqual(1_000);
    const error = await engine.publish('c', JSON.stringify('y'.repeat(2_000)), keep).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChannelLimitError);
    expect(error).toMatchObject({ code: 'ERR_CHANNEL_LIMIT', limit: 'bytes' });
    expect((await engine.position('c')).offset).toBe(10);
  });

  it('keeps at most maxBytes in all channels, evicting the oldest publication overall', async () => {
    const { engine } = setup({ maxBytes: 2_000 });
    const data = JSON.stringify('x'.repeat(200));
    for (let i = 0; i < 20; i++) await engine.publish(i % 2 === 0 ? 'a' : 'b', data, keep);
    expect(engine.historyBytes).toBeLessThanOrEqual(2_000);
    const a = (await engine.history('a', { limit: 100 })).publications.map((p) => p.offset);
    const b = (await engine.history('b', { limit: 100 })).publications.map((p) => p.offset);
    // 298 bytes each: 6 fit, the last 6 published (offsets 8-10 of each channel).
    expect(a).toEqual([8, 9, 10]);
    expect(b).toEqual([8, 9, 10]);
  });

  it('stays exact through a long run of tiny publications behind one old entry (the eviction order is compacted)', async () => {
    const { engine } = setup({ maxBytes: 50_000 });
    // The oldest entry overall stays put while 20,000 later ones are evicted behind it.
    await engine.publish('old', '"first"', keep);
    for (let i = 0; i < 20_000; i++) await engine.publish(`c${i % 7}`, String(i), { historySize: 2, historyTtlMs: 60_000 });
    expect(engine.historyBytes).toBe(103 + 7 * 2 * 101);
    expect((await engine.history('c3', { limit: 10 })).publications.map((p) => p.data)).toEqual(['19988', '19995']);
    // The global bound still finds the oldest entry first after the compactions.
    for (let i = 0; i < 200; i++) await engine.publish('big', JSON.stringify('x'.repeat(200)), { historySize: 1_000, historyTtlMs: 60_000 });
    expect(engine.historyBytes).toBeLessThanOrEqual(50_000);
    expect((await engine.history('old', { limit: 1 })).publications).toEqual([]);
    expect((await engine.history('c3', { limit: 10 })).publications).toEqual([]);
  });

  it('expires publications older than historyTtlMs on read and on append, no timer needed', async () => {
    const { engine, clock } = setup();
    const ttl = { historySize: 100, historyTtlMs: 1_000 };
    await engine.publish('c', '1', ttl);
    clock.now += 600;
    await engine.publish('c', '2', ttl);
    clock.now += 400; // the first is exactly 1000 ms old
    expect((await engine.history('c', { limit: 10 })).publications.map((p) => p.offset)).toEqual([2]);
    clock.now += 600;
    const page = await engine.history('c', { limit: 10 });
    expect(page.publications).toEqual([]);
    expect(engine.historyBytes).toBe(0);
    // Expired history does not reset the position while the channel is kept (grace period).
    expect(page.offset).toBe(2);
    expect(await engine.publish('c', '3', ttl)).toMatchObject({ offset: 3, epoch: page.epoch });
  });

  it('a channel whose whole history is gone is dropped; the next publication opens a new epoch at offset 1', async () => {
    const { engine, clock } = setup({ positionTtlMs: 5_000 });
    const ttl = { historySize: 100, historyTtlMs: 1_000 };
    const first = await engine.publish('c', '1', ttl);
    await engine.publish('c', '2', ttl);
    clock.now += 1_000;
    engine.sweep();
    expect(engine.historyBytes).toBe(0);
    expect(engine.channelCount).toBe(1); // position kept for the grace period
    clock.now += 4_000;
    engine.sweep();
    expect(engine.channelCount).toBe(0);
    const next = await engine.publish('c', '3', ttl);
    expect(next.offset).toBe(1);
    expect(next.epoch).not.toBe(first.epoch);
    // A subscriber holding { offset: 2, epoch: first.epoch } sees the epoch differ: a gap, never a silent hole.
    expect((await engine.history('c', { since: 2, limit: 10 })).epoch).toBe(next.epoch);
  });

  it('bounds the channel map: idle channels make room, busy ones are a clear error', async () => {
    const { engine } = setup({ maxChannels: 3 });
    await engine.position('idle-1');
    await engine.position('idle-2');
    await engine.publish('busy', '1', keep);
    // Full: the least recently touched idle channel gives way.
    await engine.publish('new', '1', keep);
    expect(engine.channelCount).toBe(3);
    await engine.publish('newer', '1', keep);
    expect(engine.channelCount).toBe(3);
    const error = await engine.publish('one-too-many', '1', keep).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChannelLimitError);
    expect(error).toMatchObject({ limit: 'channels' });
    expect((error as Error).message).toMatch(/maxChannels \(3\)/);
    expect((await engine.position('busy')).offset).toBe(1);
  });

  it('10,000 reads of distinct channel names leave at most maxChannels entries, and the sweep clears them', async () => {
    const { engine, clock } = setup({ maxChannels: 500, positionTtlMs: 1_000 });
    for (let i = 0; i < 10_000; i++) await engine.position(`probe:${i}`);
    expect(engine.channelCount).toBe(500);
    clock.now += 1_000;
    engine.sweep();
    expect(engine.channelCount).toBe(0);
  });
});

describe('memoryEngine: memory under a publication flood', () => {
  it('200,000 distinct 1 KiB publications into 1,000 channels hold at most maxBytes (heap printed)', async () => {
    const gc = collector();
    const { engine } = setup({ maxBytes: 8 << 20 });
    const pad = 'p'.repeat(1_000);
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < 200_000; i++) {
      // A fresh flat string each time, as a real payload would be: nothing shared between entries.
      await engine.publish(`room:${i % 1_000}`, JSON.stringify({ i, pad }), { historySize: 1_000, historyTtlMs: 600_000 });
    }
    gc();
    const growth = process.memoryUsage().heapUsed - heapBefore;
    console.log(`memoryEngine flood: ${(200_000 * 1_020) >> 20} MiB published, ${(engine.historyBytes / 2 ** 20).toFixed(1)} MiB of history kept, heap growth ${(growth / 2 ** 20).toFixed(1)} MiB`);
    expect(engine.historyBytes).toBeLessThanOrEqual(8 << 20);
    // Unbounded, this is ~200 MiB of strings; bounded, 8 MiB of history plus V8 slack.
    expect(growth).toBeLessThan(64 * 2 ** 20);
    const page = await engine.history('room:999', { limit: 1_000 });
    expect(page.offset).toBe(200);
    expect(page.publications.at(-1)?.offset).toBe(200);
  });
});

/** `gc()` when it can be had (`--expose-gc` set late, through a fresh context), else nothing. */
function collector(): () => void {
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    return () => gc();
  } catch {
    return () => {};
  }
}

describe('memoryEngine: listeners', () => {
  it('notifies listeners of the channel with the stored publication, and stops after unlisten', async () => {
    const { engine } = setup();
    const heard: ChannelEvent[] = [];
    const other: ChannelEvent[] = [];
    const unlisten = await engine.listen('c', (e) => heard.push(e));
    await engine.listen('d', (e) => other.push(e));
    const { epoch } = await engine.publish('c', '{"x":1}', { ...keep, id: 'p1' });
    expect(heard).toEqual([{ type: 'publication', channel: 'c', epoch, publication: { offset: 1, id: 'p1', data: '{"x":1}', publishedAt: 1_000_000 } }]);
    // The listener gets the very object the history holds: one encoding for every subscriber.
    const [stored] = (await engine.history('c', { limit: 1 })).publications;
    expect((heard[0] as { publication: unknown }).publication).toBe(stored);
    await unlisten();
    await unlisten();
    await engine.publish('c', '2', keep);
    expect(heard).toHaveLength(1);
    expect(other).toEqual([]);
  });

  it('a listener keeps its channel (and epoch) after the history expired; a throwing listener does not stop the others', async () => {
    const errors: unknown[] = [];
    const { engine, clock } = setup({ positionTtlMs: 1_000, onError: (e) => errors.push(e) });
    const heard: number[] = [];
    await engine.listen('c', () => {
      throw new Error('listener bug');
    });
    const unlisten = await engine.listen('c', (e) => heard.push(e.type === 'publication' ? e.publication.offset : -1));
    const { epoch } = await engine.publish('c', '1', { historySize: 10, historyTtlMs: 100 });
    clock.now += 10_000;
    engine.sweep();
    expect(engine.channelCount).toBe(1);
    expect(await engine.publish('c', '2', keep)).toMatchObject({ offset: 2, epoch });
    expect(heard).toEqual([1, 2]);
    expect(errors).toHaveLength(2);
    await unlisten();
  });

  it('delivers in offset order even when a listener publishes from inside its callback', async () => {
    const { engine } = setup();
    const seen: number[] = [];
    await engine.listen('c', (e) => {
      if (e.type !== 'publication') return;
      seen.push(e.publication.offset);
      if (e.publication.offset === 1) void engine.publish('c', 'echo', keep);
    });
    await engine.publish('c', 'first', keep);
    expect(seen).toEqual([1, 2]);
  });
});

describe('memoryEngine: presence', () => {
  const ann = { clientId: 'c-ann', sessionId: 's-1', identity: { user: 'ann' } };
  const bob = { clientId: 'c-bob', sessionId: 's-2' };

  it('adds, lists and removes members, with join and leave notifications', async () => {
    const { engine } = setup();
    const heard: ChannelEvent[] = [];
    await engine.listen('room', (e) => heard.push(e));
    await engine.presenceAdd('room', ann, 30_000);
    await engine.presenceAdd('room', bob, 30_000);
    await engine.presenceAdd('room', ann, 30_000); // a refresh: no second join
    expect(await engine.presence('room')).toEqual([ann, bob]);
    await engine.presenceRemove('room', 'c-ann');
    await engine.presenceRemove('room', 'c-ann'); // gone already: no second leave
    expect(await engine.presence('room')).toEqual([bob]);
    expect(heard.map((e) => `${e.type}:${e.type === 'publication' ? '' : e.member.clientId}`)).toEqual(['join:c-ann', 'join:c-bob', 'leave:c-ann']);
    expect(await engine.presence('nobody-here')).toEqual([]);
  });

  it('expires members past their time to live (on read and by the sweep), with a leave; a refresh keeps them', async () => {
    const { engine, clock } = setup();
    const leaves: string[] = [];
    await engine.listen('room', (e) => {
      if (e.type === 'leave') leaves.push(e.member.clientId);
    });
    await engine.presenceAdd('room', ann, 1_000);
    await engine.presenceAdd('room', bob, 1_000);
    clock.now += 900;
    await engine.presenceAdd('room', bob, 1_000);
    clock.now += 100;
    expect(await engine.presence('room')).toEqual([bob]);
    expect(leaves).toEqual(['c-ann']);
    clock.now += 900;
    engine.sweep();
    expect(leaves).toEqual(['c-ann', 'c-bob']);
  });

  it('bounds the members of a channel', async () => {
    const { engine } = setup({ maxMembers: 2 });
    await engine.presenceAdd('room', ann, 1_000);
    await engine.presenceAdd('room', bob, 1_000);
    await expect(engine.presenceAdd('room', { clientId: 'c-3', sessionId: 's-3' }, 1_000)).rejects.toMatchObject({ limit: 'members' });
    await engine.presenceAdd('room', ann, 1_000); // refreshing a member is not a new one
  });

  it('a channel with members is kept; once they left and the grace period passed, it is dropped', async () => {
    const { engine, clock } = setup({ positionTtlMs: 1_000 });
    await engine.presenceAdd('room', ann, 60_000);
    clock.now += 5_000;
    engine.sweep();
    expect(engine.channelCount).toBe(1);
    await engine.presenceRemove('room', 'c-ann');
    clock.now += 1_000;
    engine.sweep();
    expect(engine.channelCount).toBe(0);
  });
});

describe('memoryEngine: close', () => {
  it('rejects every call with ClosedError afterwards, and close is idempotent', async () => {
    const { engine } = setup();
    const unlisten = await engine.listen('c', () => {});
    await engine.publish('c', '1', keep);
    await engine.close();
    await engine.close();
    expect(engine.channelCount).toBe(0);
    expect(engine.historyBytes).toBe(0);
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
    await unlisten(); // harmless after close
  });

  it('runs one shared sweep timer, and stops it on close', async () => {
    vi.useFakeTimers();
    try {
      let now = 0;
      const engine = memoryEngine({ now: () => now, sweepIntervalMs: 5, positionTtlMs: 1 });
      await engine.position('a');
      await engine.position('b');
      expect(vi.getTimerCount()).toBe(1);
      now = 10;
      vi.advanceTimersByTime(5);
      expect(engine.channelCount).toBe(0);
      await engine.close();
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
