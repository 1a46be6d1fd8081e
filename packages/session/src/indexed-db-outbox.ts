import { OutboxStoreError } from '@lifeline/protocol';
import { messageId } from '@lifeline/protocol/internal';
import type { OutboxStore, StoredMessage } from './outbox-store.js';

/** The part of the Web Locks API the store uses (`navigator.locks`). */
export interface LockManagerLike {
  request(name: string, callback: (lock: unknown) => unknown): Promise<unknown>;
  request(name: string, options: { ifAvailable: true }, callback: (lock: unknown) => unknown): Promise<unknown>;
}

export interface IndexedDbOutboxOptions {
  /** Names this outbox: the database `lifeline-outbox:<name>`. Clients of one app in several tabs share it by using the same name. @default 'default' */
  name?: string;
  /** @default globalThis.indexedDB */
  indexedDB?: IDBFactory;
  /**
   * Web Locks, which keep two tabs from sending the same entry (see `indexedDbOutbox`); `null`
   * for none: then every run adopts every entry, so only one tab may use the outbox at a time.
   * @default globalThis.navigator.locks (null where it is missing)
   */
  locks?: LockManagerLike | null;
  /** Entries kept at most, over all tabs; past it `send()` rejects with `OutboxStoreError`. @default 20_000 */
  maxEntries?: number;
  /** Characters of id and data kept at most (bytes for ASCII), over all tabs; past it `send()` rejects with `OutboxStoreError`. @default 32 MiB */
  maxBytes?: number;
  /** The transactions' durability hint (`'strict'` waits for the disk: slower, survives a power loss). @default 'default' */
  durability?: IDBTransactionDurability;
}

export const indexedDbOutboxDefaults = Object.freeze({ name: 'default', maxEntries: 20_000, maxBytes: 32 * 1024 * 1024, durability: 'default' as const });

/** The database's layout: entries by an auto-incremented key (the send order), the totals the bounds count. */
const ENTRIES = 'entries';
const BY_OWNER = 'owner';
const BY_OWNER_ID = 'owner-id';
const META = 'meta';
const TOTALS = 'totals';

/** One kept message and the run that will send it. */
interface Entry {
  owner: string;
  id: string;
  data: string;
}

interface Totals {
  entries: number;
  bytes: number;
}

interface PendingAdd {
  readonly entry: Entry;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/**
 * A durable outbox in IndexedDB, the recommended one for browsers (DESIGN.md guarantee 8):
 * asynchronous, so `add` returns a promise and the client transmits a message only once it is
 * kept (see `OutboxStore`); the adds of one turn share one transaction. Bounded by `maxEntries`
 * and `maxBytes`; past them `send()` rejects with `OutboxStoreError`.
 *
 * Tabs of one app may share it (same `name`) and never send the same message twice: each store
 * is one run, holding the Web Lock `lifeline-outbox:<name>:<run>` until `close()` or until its
 * page goes away, and its entries carry its run id. `load()` takes only the entries of runs whose
 * lock it can take at once (`ifAvailable`): their tab is gone. It re-tags them as its own in one
 * transaction while holding that lock, so of two tabs loading at once only one adopts them. A
 * live tab's entries are never loaded by another. Without Web Locks (`locks: null`, or a browser
 * without `navigator.locks`) a run adopts every entry: one tab at a time, as `webStorageOutbox`.
 */
export function indexedDbOutbox(options: IndexedDbOutboxOptions = {}): OutboxStore & { close(): Promise<void> } {
  const d = indexedDbOutboxDefaults;
  const factory = options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (factory === undefined) throw new TypeError('indexedDbOutbox: no `indexedDB` given and no globalThis.indexedDB');
  const locks = options.locks === undefined ? (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks ?? null : options.locks;
  const name = options.name ?? d.name;
  if (typeof name !== 'string' || name.length === 0) throw new TypeError('indexedDbOutbox: `name` must be a non-empty string');
  const maxEntries = positive('maxEntries', options.maxEntries ?? d.maxEntries);
  const maxBytes = positive('maxBytes', options.maxBytes ?? d.maxBytes);
  const durability = options.durability ?? d.durability;
  const run = messageId();
  const lockOf = (owner: string) => `lifeline-outbox:${name}:${owner}`;

  // Called by close(); before the lock is granted, it makes the grant a release.
  let released = false;
  let release = (): void => {
    released = true;
  };
  const ownLock =
    locks === null
      ? Promise.resolve()
      : new Promise<void>((resolve, reject) => {
          locks
            .request(lockOf(run), () => {
              resolve();
              return released ? undefined : new Promise<void>((r) => (release = r));
            })
            .catch(reject);
        });
  const opened = Promise.all([open(factory, `lifeline-outbox:${name}`), ownLock]).then(([db]) => db);
  // Every operation runs after the one before it, in call order: a `remove` after its `add`.
  let tail: Promise<unknown> = opened;
  let closed: Promise<void> | undefined;
  const then = <T>(op: (db: IDBDatabase) => Promise<T>): Promise<T> => {
    const next = tail.then(() => opened).then(op);
    tail = next.catch(() => {});
    return next;
  };
  const tx = (db: IDBDatabase, stores: string[]) => db.transaction(stores, 'readwrite', { durability });

  let batch: PendingAdd[] | undefined;
  const writeAdds = async (db: IDBDatabase, adds: PendingAdd[]): Promise<void> => {
    const t = tx(db, [ENTRIES, META]);
    const entries = t.objectStore(ENTRIES);
    const meta = t.objectStore(META);
    const totals = (await request<Totals | undefined>(meta.get(TOTALS))) ?? { entries: 0, bytes: 0 };
    const refused = new Map<PendingAdd, Error>();
    for (const add of adds) {
      const size = sizeOf(add.entry);
      if (totals.entries + 1 > maxEntries || totals.bytes + size > maxBytes) {
        refused.set(add, new OutboxStoreError(`the outbox is full (${totals.entries} entries, ${totals.bytes} characters; maxEntries ${maxEntries}, maxBytes ${maxBytes})`));
        continue;
      }
      totals.entries++;
      totals.bytes += size;
      entries.add(add.entry);
    }
    meta.put(totals, TOTALS);
    try {
      await done(t);
    } catch (error) {
      for (const add of adds) add.reject(error as Error);
      return;
    }
    for (const add of adds) {
      const error = refused.get(add);
      if (error === undefined) add.resolve();
      else add.reject(error);
    }
  };

  const removeIds = async (db: IDBDatabase, ids: readonly string[]): Promise<void> => {
    const counts = new Map<string, number>();
    for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
    const t = tx(db, [ENTRIES, META]);
    const entries = t.objectStore(ENTRIES);
    const index = entries.index(BY_OWNER_ID);
    const meta = t.objectStore(META);
    const totals = (await request<Totals | undefined>(meta.get(TOTALS))) ?? { entries: 0, bytes: 0 };
    for (const [id, n] of counts) {
      // The index orders an id's entries by key: the oldest first. (A key is a query: no global IDBKeyRange needed.)
      const range = [run, id];
      const [keys, values] = await Promise.all([request(index.getAllKeys(range, n)), request<Entry[]>(index.getAll(range, n))]);
      keys.forEach((key, i) => {
        entries.delete(key);
        totals.entries--;
        totals.bytes -= sizeOf(values[i] as Entry);
      });
    }
    meta.put({ entries: Math.max(0, totals.entries), bytes: Math.max(0, totals.bytes) }, TOTALS);
    await done(t);
  };

  /** Takes every entry of `owner` as this run's own, when `owner`'s lock is free (its tab is gone). */
  const adopt = async (db: IDBDatabase, owner: string): Promise<void> => {
    const retag = async () => {
      const t = tx(db, [ENTRIES]);
      const entries = t.objectStore(ENTRIES);
      const index = entries.index(BY_OWNER);
      // Read again under the lock: another tab may have adopted them since the first look.
      const [keys, values] = await Promise.all([request(index.getAllKeys(owner)), request<Entry[]>(index.getAll(owner))]);
      keys.forEach((key, i) => entries.put({ ...(values[i] as Entry), owner: run }, key));
      await done(t);
    };
    if (locks === null) return retag();
    await locks.request(lockOf(owner), { ifAvailable: true }, (lock) => (lock === null ? undefined : retag()));
  };

  const load = async (db: IDBDatabase): Promise<StoredMessage[]> => {
    for (const owner of await ownersOf(db.transaction([ENTRIES], 'readonly').objectStore(ENTRIES).index(BY_OWNER))) {
      if (owner !== run) await adopt(db, owner);
    }
    const mine = await request<Entry[]>(db.transaction([ENTRIES], 'readonly').objectStore(ENTRIES).index(BY_OWNER).getAll(run));
    return mine.map(({ id, data }) => ({ id, data }));
  };

  const closedError = () => new OutboxStoreError('the outbox store is closed');
  return {
    load: () => (closed === undefined ? then(load) : Promise.reject(closedError())),
    add({ id, data }) {
      if (closed !== undefined) return Promise.reject(closedError());
      return new Promise<void>((resolve, reject) => {
        const add: PendingAdd = { entry: { owner: run, id, data }, resolve, reject };
        if (batch !== undefined) {
          batch.push(add);
          return;
        }
        const adds = [add];
        batch = adds;
        // The adds made before this batch's turn comes share its transaction.
        then((db) => {
          if (batch === adds) batch = undefined;
          return writeAdds(db, adds);
        }).catch((error: Error) => {
          for (const a of adds) a.reject(error);
        });
      });
    },
    remove(ids) {
      if (closed !== undefined) return Promise.reject(closedError());
      // Later adds go to a batch after this removal.
      batch = undefined;
      return then((db) => removeIds(db, ids));
    },
    close() {
      // The lock is released once what was asked of the store is done, so no other tab adopts
      // entries while this run is still writing them.
      closed ??= then(async (db) => db.close()).then(
        () => release(),
        () => release(),
      );
      return closed;
    },
  };
}

function positive(name: string, value: number): number {
  if (typeof value !== 'number' || !(value >= 1)) throw new TypeError(`indexedDbOutbox: \`${name}\` must be a number ≥ 1, got ${String(value)}`);
  return value;
}

function sizeOf(entry: Entry): number {
  return entry.id.length + entry.data.length;
}

function open(factory: IDBFactory, name: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = factory.open(name, 1);
    req.onupgradeneeded = () => {
      const db = req.result;
      const entries = db.createObjectStore(ENTRIES, { autoIncrement: true });
      entries.createIndex(BY_OWNER, 'owner');
      entries.createIndex(BY_OWNER_ID, ['owner', 'id']);
      db.createObjectStore(META);
    };
    req.onsuccess = () => {
      const db = req.result;
      // A newer version of this layout opened elsewhere: step aside rather than block it.
      db.onversionchange = () => db.close();
      resolve(db);
    };
    req.onerror = () => reject(req.error ?? new Error(`could not open IndexedDB database ${name}`));
    req.onblocked = () => reject(new Error(`IndexedDB database ${name} is held open at an older version by another tab`));
  });
}

/** The distinct owners of the entries, from the index alone. */
function ownersOf(index: IDBIndex): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const found: string[] = [];
    const req = index.openKeyCursor(null, 'nextunique');
    req.onsuccess = () => {
      const cursor = req.result;
      if (cursor === null) return resolve(found);
      if (typeof cursor.key === 'string') found.push(cursor.key);
      cursor.continue();
    };
    req.onerror = () => reject(req.error ?? new Error('IndexedDB cursor failed'));
  });
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
  });
}

function done(t: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    t.oncomplete = () => resolve();
    t.onerror = () => reject(t.error ?? new Error('IndexedDB transaction failed'));
    t.onabort = () => reject(t.error ?? new Error('IndexedDB transaction aborted'));
  });
}
