import type { OutboxStore, StoredMessage } from './outbox-store.js';

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
  // id → its keys, oldest first; Map order is the send order.
  let byId: Map<string, string[]> | undefined;
  let next = 0;

  const scan = (): Map<string, string[]> => {
    if (byId !== undefined) return byId;
    const found: Array<[number, string, string]> = [];
    for (let i = 0; i < storage.length; i++) {
      const key = storage.key(i);
      if (key === null || !key.startsWith(prefix)) continue;
      const n = Number(key.slice(prefix.length));
      const entry = parse(storage.getItem(key));
      if (!Number.isSafeInteger(n) || entry === undefined) continue;
      found.push([n, key, entry.id]);
    }
    found.sort((a, b) => a[0] - b[0]);
    byId = new Map();
    for (const [n, key, id] of found) {
      const keys = byId.get(id);
      if (keys === undefined) byId.set(id, [key]);
      else keys.push(key);
      next = n + 1;
    }
    return byId;
  };

  return {
    load() {
      const out: Array<[number, StoredMessage]> = [];
      for (const keys of scan().values()) {
        for (const key of keys) {
          const entry = parse(storage.getItem(key));
          if (entry !== undefined) out.push([Number(key.slice(prefix.length)), entry]);
        }
      }
      return out.sort((a, b) => a[0] - b[0]).map(([, m]) => m);
    },
    add({ id, data }) {
      const map = scan();
      const key = `${prefix}${next}`;
      storage.setItem(key, JSON.stringify([id, data])); // throws QuotaExceededError when full
      next++;
      const keys = map.get(id);
      if (keys === undefined) map.set(id, [key]);
      else keys.push(key);
    },
    remove(ids) {
      const map = scan();
      for (const id of ids) {
        const keys = map.get(id);
        const key = keys?.shift();
        if (key === undefined) continue;
        if (keys?.length === 0) map.delete(id);
        storage.removeItem(key);
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
