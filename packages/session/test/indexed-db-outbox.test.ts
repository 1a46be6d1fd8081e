// indexedDbOutbox on fake-indexeddb (Node has no IndexedDB) with an in-memory stand-in for Web
// Locks; what Chromium's IndexedDB and locks do across real tabs is tested in packages/sdk/test.
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { OutboxStoreError } from '@lifeline/protocol';
import { poll } from '@lifeline/test-kit';
import { indexedDbOutbox, type LockManagerLike, type OutboxStore, type StoredMessage } from '../src/index.js';
import { StoreLink } from '../src/outbox-store.js';
import { client, fakeServer, useFixtures } from './helpers.js';

/** Exclusive Web Locks in memory: a lock is held while its callback's promise is pending. */
class MemoryLocks implements LockManagerLike {
  private readonly held = new Map<string, Promise<void>>();

  request(name: string, a: unknown, b?: unknown): Promise<unknown> {
    const ifAvailable = b !== undefined && (a as { ifAvailable?: boolean }).ifAvailable === true;
    const callback = (b ?? a) as (lock: unknown) => unknown;
    const busy = this.held.get(name);
    if (busy !== undefined && ifAvailable) return Promise.resolve(callback(null));
    const granted = (busy ?? Promise.resolve()).then(async () => {
      let done = (): void => {};
      this.held.set(name, new Promise<void>((r) => (done = r)));
      try {
        return await callback({ name });
      } finally {
        this.held.delete(name);
        done();
      }
    });
    return granted;
  }
}

const msg = (id: string, data: unknown = { id }): StoredMessage => ({ id, data: JSON.stringify(data) });
const ids = (messages: readonly StoredMessage[]) => messages.map((m) => m.id);

/** One browser profile: a database factory and its locks, shared by every store ("tab") made from it. */
function profile(locks: LockManagerLike | null = new MemoryLocks()) {
  const indexedDB = new IDBFactory();
  return (options: { maxEntries?: number; maxBytes?: number } = {}) => indexedDbOutbox({ indexedDB, locks, ...options });
}

describe.each([
  ['with Web Locks', () => profile()],
  ['without Web Locks (one tab at a time)', () => profile(null)],
])('indexedDbOutbox %s: the store contract', (_, makeProfile) => {
  it('keeps what was added, in order, across a reopen', async () => {
    const tab = makeProfile();
    const store = tab();
    await Promise.all([store.add(msg('a', { n: 1 })), store.add(msg('b', [1, 'two', null])), store.add(msg('c', 'text with "quotes"'))]);
    await store.remove(['b']);
    await store.close();
    expect(await tab().load()).toEqual([msg('a', { n: 1 }), msg('c', 'text with "quotes"')]);
  });

  it('removes the oldest entry of a repeated id, ignores ids it does not hold, and applies calls in order', async () => {
    const tab = makeProfile();
    const store = tab();
    // Not awaited: each call takes effect after the one before it.
    void store.add(msg('x', 1));
    void store.add(msg('y', 2));
    void store.add(msg('x', 3));
    void store.remove(['x', 'nope']);
    expect(await store.load()).toEqual([msg('y', 2), msg('x', 3)]);
    await store.close();
    const again = tab();
    expect(await again.load()).toEqual([msg('y', 2), msg('x', 3)]);
    void again.remove(['y', 'x']);
    expect(await again.load()).toEqual([]);
  });

  it('carries on adding after a reopen without overwriting what is there', async () => {
    const tab = makeProfile();
    const store = tab();
    void store.add(msg('a'));
    await store.close();
    const again = tab();
    void again.add(msg('b'));
    await again.close();
    expect(ids(await tab().load())).toEqual(['a', 'b']);
  });
});

describe('indexedDbOutbox bounds', () => {
  it('refuses an add past maxEntries with OutboxStoreError, and takes adds again once entries are removed', async () => {
    const store = profile()({ maxEntries: 2 });
    const adds = [store.add(msg('a')), store.add(msg('b')), store.add(msg('c'))];
    await expect(adds[0]).resolves.toBeUndefined();
    await expect(adds[1]).resolves.toBeUndefined();
    await expect(adds[2]).rejects.toBeInstanceOf(OutboxStoreError);
    await expect(adds[2]).rejects.toThrow(/full.*maxEntries 2/);
    await store.remove(['a']);
    await store.add(msg('d'));
    expect(ids(await store.load())).toEqual(['b', 'd']);
  });

  it('counts characters of id and data against maxBytes, over every tab of the profile', async () => {
    const tab = profile();
    const one = tab({ maxBytes: 30 });
    const two = tab({ maxBytes: 30 });
    await one.add({ id: 'a', data: '"0123456789"' }); // 13
    await two.add({ id: 'b', data: '"0123456789"' }); // 26
    await expect(two.add({ id: 'c', data: '"01"' })).rejects.toThrow(/full/); // 31
    await two.add({ id: 'c', data: '1' }); // 28
    await one.remove(['a']);
    await two.add({ id: 'd', data: '"0123456789"' }); // 28
  });

  it('validates its options with a TypeError', () => {
    const indexedDB = new IDBFactory();
    expect(() => indexedDbOutbox({ indexedDB, maxEntries: 0 })).toThrow(TypeError);
    expect(() => indexedDbOutbox({ indexedDB, maxBytes: Number.NaN })).toThrow(TypeError);
    expect(() => indexedDbOutbox({ indexedDB, name: '' })).toThrow(TypeError);
    expect(() => indexedDbOutbox({ indexedDB: undefined, locks: null })).toThrow(/no `indexedDB`/);
  });

  it('refuses every call after close()', async () => {
    const store = profile()();
    await store.close();
    await expect(store.add(msg('a'))).rejects.toBeInstanceOf(OutboxStoreError);
    await expect(store.load()).rejects.toBeInstanceOf(OutboxStoreError);
  });
});

describe('indexedDbOutbox across tabs (Web Locks)', () => {
  it('never loads the entries of a run whose tab is alive; adopts them once it is gone', async () => {
    const tab = profile();
    const a = tab();
    await a.add(msg('a1'));
    await a.add(msg('a2'));
    const b = tab();
    await b.add(msg('b1'));
    expect(ids(await b.load())).toEqual(['b1']); // a is alive
    expect(ids(await a.load())).toEqual(['a1', 'a2']); // and b too
    await a.close(); // the tab goes: its lock with it
    expect(ids(await b.load())).toEqual(['a1', 'a2', 'b1']);
    // Adopted: removals by b now forget them, and a new tab sees only what b left while b lives.
    await b.remove(['a1']);
    expect(ids(await tab().load())).toEqual([]);
    await b.close();
    expect(ids(await tab().load())).toEqual(['a2', 'b1']);
  });

  it('gives the entries of a gone run to exactly one of the tabs that load at once', async () => {
    const tab = profile();
    const gone = tab();
    for (let i = 0; i < 20; i++) void gone.add(msg(`m${i}`));
    await gone.close();
    const tabs = [tab(), tab(), tab()];
    const loaded = await Promise.all(tabs.map((t) => t.load()));
    const all = loaded.flatMap(ids);
    expect(all.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`).sort());
    expect(loaded.filter((l) => l.length > 0)).toHaveLength(1);
  });
});

describe('an asynchronous store under the client', () => {
  useFixtures();

  it('transmits nothing before add has kept the message, nor anything sent after it', async () => {
    const server = await fakeServer();
    const kept: Array<() => void> = [];
    const store: OutboxStore = {
      load: () => [],
      add: () => new Promise<void>((resolve) => kept.push(resolve)),
      remove: () => {},
    };
    const c = client({ url: server.url, outbox: store });
    await c.connect();
    const first = c.send('first');
    const second = c.send('second');
    await poll(() => kept.length === 2, 'both adds');
    // A connected client with both messages accepted: neither leaves while the first is not kept
    // (a window for a frame that must not come).
    await new Promise((r) => setTimeout(r, 50));
    expect(server.msgs).toEqual([]);
    kept[1]!(); // the second kept first: still held behind the first
    await new Promise((r) => setTimeout(r, 50));
    expect(server.msgs).toEqual([]);
    kept[0]!();
    await expect(first).resolves.toEqual({ echo: 'first' });
    await expect(second).resolves.toEqual({ echo: 'second' });
    expect(server.msgs.map((m) => m.d)).toEqual(['first', 'second']);
  });

  it('fails a send whose add is refused with OutboxStoreError, and sends the rest', async () => {
    const server = await fakeServer();
    const removed: string[] = [];
    const store: OutboxStore = {
      load: () => [],
      add: (m) => (m.id === 'bad' ? Promise.reject(new Error('quota')) : Promise.resolve()),
      remove: (ids) => void removed.push(...ids),
    };
    const c = client({ url: server.url, outbox: store });
    await c.connect();
    const bad = c.send('bad', { id: 'bad' });
    const good = c.send('good', { id: 'good' });
    await expect(bad).rejects.toMatchObject({ name: 'OutboxStoreError', cause: { message: 'quota' } });
    await expect(good).resolves.toEqual({ echo: 'good' });
    expect(server.msgs.map((m) => m.id)).toEqual(['good']);
    await poll(() => removed.includes('good'), 'the removal of the acked message');
    expect(removed).toEqual(['good']); // nothing to forget for the refused one
  });

  it('sends what an earlier run left in IndexedDB once, and empties the store', async () => {
    const server = await fakeServer();
    const tab = profile();
    const earlier = tab();
    await earlier.add(msg('left-1', 1));
    await earlier.add(msg('left-2', 2));
    await earlier.close();
    const store = tab();
    const c = client({ url: server.url, outbox: store });
    const settled: unknown[] = [];
    c.on('restored-settled', (outcome) => settled.push(outcome));
    const fresh = c.send(3, { id: 'fresh' });
    await c.connect();
    await expect(fresh).resolves.toEqual({ echo: 3 });
    await server.until(() => server.msgs.length === 3);
    expect(server.msgs.map((m) => m.id)).toEqual(['left-1', 'left-2', 'fresh']);
    await poll(() => settled.length === 2, 'both restored messages settled');
    await c.close();
    expect(await tab().load()).toEqual([]);
  });
});

describe('StoreLink with an asynchronous store', () => {
  it('maps a rejected add to OutboxStoreError', async () => {
    const link = new StoreLink({ load: () => [], add: () => Promise.reject(new Error('quota')), remove: () => {} }, () => {});
    const refused = await link.add('a', '1');
    expect(refused).toBeInstanceOf(OutboxStoreError);
    expect((refused?.cause as Error).message).toBe('quota');
  });

  it('reports a rejected remove and a rejected close on the error event', async () => {
    const reported: Error[] = [];
    const link = new StoreLink(
      { load: () => [], add: () => {}, remove: () => Promise.reject(new Error('gone')), close: () => Promise.reject(new Error('stuck')) },
      (e) => reported.push(e),
    );
    link.remove('a');
    link.close();
    await poll(() => reported.length === 2, 'both failures reported');
    expect(reported.map((e) => (e.cause as Error).message).sort()).toEqual(['gone', 'stuck']);
    expect(reported.every((e) => e instanceof OutboxStoreError)).toBe(true);
  });
});
