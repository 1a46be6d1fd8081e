import { mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OutboxStoreError } from '@lifeline/protocol';
import { webStorageOutbox, type OutboxStore, type StorageLike } from '../src/index.js';
import { fileOutbox } from '../src/file-outbox.js';
import { StoreLink } from '../src/outbox-store.js';

/** A Web Storage stand-in (what Chromium's localStorage does is tested in examples/dashboard). */
class MemoryStorage implements StorageLike {
  readonly map = new Map<string, string>();
  quota = Infinity;
  get length(): number {
    return this.map.size;
  }
  key(i: number): string | null {
    return [...this.map.keys()][i] ?? null;
  }
  getItem(key: string): string | null {
    return this.map.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    if (this.map.size >= this.quota) throw new Error('QuotaExceededError');
    this.map.set(key, value);
  }
  removeItem(key: string): void {
    this.map.delete(key);
  }
}

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length > 0) rmSync(dirs.pop() as string, { recursive: true, force: true });
});
function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-outbox-'));
  dirs.push(dir);
  return join(dir, 'outbox.log');
}

const msg = (id: string, data: unknown = { id }) => ({ id, data: JSON.stringify(data) });

/** The same behaviour from both stores: `reopen` gives a new store on the same storage (a restart). */
function storeContract(name: string, make: () => { store: OutboxStore; reopen: () => OutboxStore }): void {
  describe(name, () => {
    it('keeps what was added, in order, across a reopen', async () => {
      const { store, reopen } = make();
      store.add(msg('a', { n: 1 }));
      store.add(msg('b', [1, 'two', null]));
      store.add(msg('c', 'text with "quotes" and \n newline'));
      store.remove(['b']);
      store.close?.();
      expect(await reopen().load()).toEqual([msg('a', { n: 1 }), msg('c', 'text with "quotes" and \n newline')]);
    });

    it('removes the oldest entry of a repeated id, and ignores ids it does not hold', async () => {
      const { store, reopen } = make();
      store.add(msg('x', 1));
      store.add(msg('y', 2));
      store.add(msg('x', 3));
      store.remove(['x', 'nope']);
      expect(await store.load()).toEqual([msg('y', 2), msg('x', 3)]);
      store.close?.();
      const again = reopen();
      expect(await again.load()).toEqual([msg('y', 2), msg('x', 3)]);
      again.remove(['y', 'x']);
      expect(await again.load()).toEqual([]);
    });

    it('carries on adding after a reopen without overwriting what is there', async () => {
      const { store, reopen } = make();
      store.add(msg('a'));
      store.close?.();
      const again = reopen();
      again.add(msg('b'));
      again.close?.();
      expect((await reopen().load()).map((m) => m.id)).toEqual(['a', 'b']);
    });
  });
}

storeContract('webStorageOutbox', () => {
  const storage = new MemoryStorage();
  return { store: webStorageOutbox({ storage }), reopen: () => webStorageOutbox({ storage }) };
});

storeContract('fileOutbox', () => {
  const path = tempFile();
  return { store: fileOutbox(path), reopen: () => fileOutbox(path) };
});

storeContract('fileOutbox with fsync', () => {
  const path = tempFile();
  return { store: fileOutbox(path, { fsync: true }), reopen: () => fileOutbox(path, { fsync: true }) };
});

describe('webStorageOutbox specifics', () => {
  it('keeps one item per message under its prefix, and leaves other keys alone', () => {
    const storage = new MemoryStorage();
    storage.setItem('other', 'x');
    storage.setItem('orders:zz', 'not ours either');
    const store = webStorageOutbox({ storage, prefix: 'orders' });
    store.add(msg('a'));
    store.add(msg('b'));
    expect([...storage.map.keys()].sort()).toEqual(['orders:0', 'orders:1', 'orders:zz', 'other']);
    store.remove(['a']);
    expect(storage.getItem('orders:0')).toBeNull();
    expect(storage.getItem('other')).toBe('x');
  });

  it('lets a full storage throw from add (the client turns it into OutboxStoreError)', () => {
    const storage = new MemoryStorage();
    storage.quota = 1;
    const store = webStorageOutbox({ storage });
    store.add(msg('a'));
    expect(() => store.add(msg('b'))).toThrow('QuotaExceededError');
  });
});

describe('fileOutbox specifics', () => {
  it('ignores a line torn by a crash at the end of the log', async () => {
    const path = tempFile();
    const store = fileOutbox(path);
    store.add(msg('a'));
    store.close?.();
    appendFileSync(path, '{"a":"b","d":{"half');
    expect(await fileOutbox(path).load()).toEqual([msg('a')]);
  });

  it('refuses to load a log with a bad line before the end, naming the line', () => {
    const path = tempFile();
    writeFileSync(path, '{"a":"a","d":1}\ngarbage\n{"a":"b","d":2}\n');
    expect(() => fileOutbox(path).load()).toThrow(`${path}:2`);
  });

  it('rewrites the log without forgotten entries when they outnumber the kept ones', () => {
    const path = tempFile();
    const store = fileOutbox(path);
    for (let i = 0; i < 3000; i++) store.add(msg(`m${i}`, i));
    for (let i = 0; i < 2990; i += 10) store.remove(Array.from({ length: 10 }, (_, k) => `m${i + k}`));
    const lines = readFileSync(path, 'utf8').split('\n').filter(Boolean);
    // 3000 adds and 299 removal lines, rewritten once forgotten > 1024 and > kept.
    expect(lines.length).toBeLessThan(3000);
    expect(store.load().map((m) => m.id)).toEqual(Array.from({ length: 10 }, (_, k) => `m${2990 + k}`));
    store.close?.();
    expect(fileOutbox(path).load()).toHaveLength(10);
  });

  it('compacts on open: the log holds the kept messages only', () => {
    const path = tempFile();
    const store = fileOutbox(path);
    store.add(msg('a'));
    store.add(msg('b'));
    store.remove(['a']);
    store.close?.();
    fileOutbox(path).load();
    expect(readFileSync(path, 'utf8')).toBe('{"a":"b","d":{"id":"b"}}\n');
  });
});

describe('StoreLink (the client side of a store)', () => {
  it('batches removals per event-loop turn', async () => {
    const calls: string[][] = [];
    const link = new StoreLink({ load: () => [], add: () => {}, remove: (ids) => void calls.push([...ids]) }, () => {});
    link.remove('a');
    link.remove('b');
    expect(calls).toEqual([]);
    await Promise.resolve();
    expect(calls).toEqual([['a', 'b']]);
  });

  it('does not restore what this run added before loading, and skips and forgets what cannot be sent', async () => {
    const storage = new MemoryStorage();
    const earlier = webStorageOutbox({ storage });
    earlier.add(msg('old'));
    earlier.add({ id: 'bad-json', data: '{nope' });
    earlier.add({ id: '', data: '1' });
    const store = webStorageOutbox({ storage });
    const link = new StoreLink(store, () => {});
    expect(link.add('new', '"queued by this run"')).toBeUndefined();
    const loaded = await link.load();
    expect(loaded.messages).toEqual([msg('old')]);
    expect(loaded.skipped).toBe(2);
    expect(link.loaded).toBe(true);
    await Promise.resolve(); // the removal of the unsendable one is batched
    expect((await store.load()).map((m) => m.id)).toEqual(['old', 'new']);
  });

  it('drops the earlier run\'s entry of an id this run sent again before loading', async () => {
    const storage = new MemoryStorage();
    webStorageOutbox({ storage }).add(msg('order-7', 'from the crashed run'));
    const store = webStorageOutbox({ storage });
    const link = new StoreLink(store, () => {});
    link.add('order-7', '"sent again after the restart"'); // what send() does before connect()
    expect((await link.load()).messages).toEqual([]);
    await Promise.resolve();
    expect(await store.load()).toEqual([{ id: 'order-7', data: '"sent again after the restart"' }]);
  });

  it('forgets both entries of an id this run sent again and settled before loading', async () => {
    const storage = new MemoryStorage();
    webStorageOutbox({ storage }).add(msg('order-7', 'from the crashed run'));
    const store = webStorageOutbox({ storage });
    const link = new StoreLink(store, () => {});
    link.add('order-7', '"sent again, then aborted"');
    link.remove('order-7'); // its outcome is known before connect(): removal takes the oldest entry
    await Promise.resolve();
    expect((await link.load()).messages).toEqual([]);
    await Promise.resolve();
    expect(await store.load()).toEqual([]);
  });

  it('turns store failures into OutboxStoreError: add returns it, load rejects with it, remove reports it', async () => {
    const reported: Error[] = [];
    const broken: OutboxStore = {
      load: () => Promise.reject(new Error('disk gone')),
      add: () => {
        throw new Error('disk full');
      },
      remove: () => {
        throw new Error('read-only');
      },
    };
    const link = new StoreLink(broken, (e) => reported.push(e));
    const refused = link.add('a', '1') as OutboxStoreError;
    expect(refused).toBeInstanceOf(OutboxStoreError);
    expect(refused?.code).toBe('ERR_OUTBOX_STORE');
    expect((refused?.cause as Error).message).toBe('disk full');
    await expect(link.load()).rejects.toMatchObject({ code: 'ERR_OUTBOX_STORE', cause: { message: 'disk gone' } });
    expect(link.loaded).toBe(false); // a later connect() tries again
    link.remove('a');
    link.flush();
    expect(reported).toHaveLength(1);
    expect(reported[0]).toBeInstanceOf(OutboxStoreError);
  });
});
