import { OldestFirst, type OutboxStore, type StoredMessage } from './outbox-store.js';

/** The part of the Web Storage API the store uses (`localStorage` has it). */
export interface StorageLike {
  readonly length: number;
  key(index: number): string | null;
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface WebStorageOutboxOptions {
  /** @default globalThis.localStorage */
  storage?: StorageLike;
  /** Prefix of this outbox's keys: one per message, `<prefix>:<n>`. Give each client its own. @default 'lifeline-outbox' */
  prefix?: string;
}

/**
 * A durable outbox in Web Storage, for browsers: queued messages survive a page reload. One
 * key per message (`<prefix>:<n>`, the value `[id, data]`), so a send or an ack writes one small
 * item, never the whole list; `n` keeps the send order across reloads. localStorage is
 * synchronous and limited (about 5 MB per origin): a full storage makes `send()` reject with
 * `OutboxStoreError` rather than queue a message it could not keep.
 */
export function webStorageOutbox(options: WebStorageOutboxOptions = {}): OutboxStore & { load(): StoredMessage[] } {
  const storage = options.storage ?? (globalThis as { localStorage?: StorageLike }).localStorage;
  if (storage === undefined) throw new TypeError('webStorageOutbox: no `storage` given and no globalThis.localStorage');
  const prefix = `${options.prefix ?? 'lifeline-outbox'}:`;
  // id → its keys, oldest first; built by the first read of the storage.
  let byId: OldestFirst<string> | undefined;
  let next = 0;

  /** This outbox's entries in send order, in one pass over the storage, indexed as they are read. */
  const read = (): StoredMessage[] => {
    const found: Array<[number, string, StoredMessage]> = [];
    for (let i = 0; i < storage.length; i++) {
      const key = storage.key(i);
      if (key === null || !key.startsWith(prefix)) continue;
      const n = Number(key.slice(prefix.length));
      const entry = parse(storage.getItem(key));
      if (Number.isSafeInteger(n) && entry !== undefined) found.push([n, key, entry]);
    }
    found.sort((a, b) => a[0] - b[0]);
    byId = new OldestFirst();
    for (const [n, key, entry] of found) {
      byId.add(entry.id, key);
      next = Math.max(next, n + 1);
    }
    return found.map(([, , entry]) => entry);
  };
  const index = (): OldestFirst<string> => {
    if (byId === undefined) read();
    return byId as OldestFirst<string>;
  };

  return {
    load: read,
    add({ id, data }) {
      const keys = index();
      const key = `${prefix}${next}`;
      storage.setItem(key, JSON.stringify([id, data])); // throws QuotaExceededError when full
      next++;
      keys.add(id, key);
    },
    remove(ids) {
      const keys = index();
      for (const id of ids) {
        const key = keys.take(id);
        if (key !== undefined) storage.removeItem(key);
      }
    },
  };
}

function parse(value: string | null): StoredMessage | undefined {
  if (value === null) return undefined;
  try {
    const v: unknown = JSON.parse(value);
    if (Array.isArray(v) && typeof v[0] === 'string' && typeof v[1] === 'string') return { id: v[0], data: v[1] };
  } catch {
    // Not ours, or torn: skipped.
  }
  return undefined;
}
