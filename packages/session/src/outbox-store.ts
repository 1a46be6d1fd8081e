import { OutboxStoreError } from '@lifeline/protocol';
import { atTurnEnd } from '@lifeline/protocol/internal';

/**
 * The durable outbox (DESIGN.md guarantee 8): an `OutboxStore` keeps every accepted `send()`
 * until its outcome is known, so what a page reload or a process restart interrupted is sent
 * again by the next run's first `connect()`. Stores: `webStorageOutbox` (browser localStorage),
 * `fileOutbox` (Node, `@lifeline/sdk/file-outbox`), or your own.
 */

/** One kept message: its id and its payload as JSON text. */
export interface StoredMessage {
  readonly id: string;
  readonly data: string;
}

/**
 * Where the client keeps its unacknowledged messages. Calls come in this order: `add` when
 * `send()` accepts a message, `remove` once its outcome is known (acked, rejected by the server's
 * handler, past its deadline, aborted; batched, at most once per event-loop turn), `load` once,
 * by the first `connect()`. A message still pending when the client closes stays in the store.
 * Ids are the keys: `remove` forgets the oldest entry of each id it is given.
 *
 * A synchronous store (`webStorageOutbox`, `fileOutbox`) keeps the message before `add` returns.
 * An asynchronous one (`indexedDbOutbox`) returns a promise from `add`: the message is accepted,
 * but neither it nor any message sent after it is transmitted until that promise resolves, so
 * nothing leaves the machine that a reload could lose; a rejection fails that `send()` with
 * `OutboxStoreError`. Operations must take effect in call order (a `remove` after the `add` of
 * the same message).
 */
export interface OutboxStore {
  /** Every message kept and not removed, in the order added. */
  load(): readonly StoredMessage[] | Promise<readonly StoredMessage[]>;
  /** Keep `message`. A throw, or a rejected promise, makes that `send()` reject with `OutboxStoreError`. */
  add(message: StoredMessage): void | Promise<void>;
  /** Forget the oldest entry of each id. A throw or a rejection is reported on the client's `error` event. */
  remove(ids: readonly string[]): void | Promise<void>;
  /** Release what the store holds open (a file, a database, a lock); called by `client.close()`, after the last `remove`. */
  close?(): void | Promise<void>;
}

/** Checks a user-supplied store's shape; `TypeError` when it is not one. */
export function checkOutboxStore(store: unknown): OutboxStore | undefined {
  if (store === undefined) return undefined;
  const s = store as Partial<OutboxStore> | null;
  if (s === null || typeof s !== 'object' || typeof s.load !== 'function' || typeof s.add !== 'function' || typeof s.remove !== 'function') {
    throw new TypeError('Expected `outbox` to be an OutboxStore: an object with load(), add() and remove()');
  }
  return s as OutboxStore;
}

/** Each id's entries (keys of type `K`) oldest first, for stores: removal takes an id's oldest entry. */
export class OldestFirst<K> {
  private readonly byId = new Map<string, K[]>();

  add(id: string, key: K): void {
    const keys = this.byId.get(id);
    if (keys === undefined) this.byId.set(id, [key]);
    else keys.push(key);
  }

  /** Takes out the oldest entry of `id`; undefined when it has none. */
  take(id: string): K | undefined {
    const keys = this.byId.get(id);
    const key = keys?.shift();
    if (keys?.length === 0) this.byId.delete(id);
    return key;
  }
}

/** What `StoreLink.load` found: the messages to send again, and entries it had to skip. */
export interface LoadedOutbox {
  readonly messages: readonly StoredMessage[];
  /** Entries whose id or data could not be sent (not a 1–128 character id, not JSON). */
  readonly skipped: number;
}

/**
 * The client's side of a store: adds at once (so an accepted message is kept before it can be
 * lost), removals batched per event-loop turn, store failures turned into `OutboxStoreError`.
 */
export class StoreLink {
  private removals: string[] = [];
  private scheduled = false;
  /**
   * Ids this run added before loading, with how many of those entries are still pending: the id
   * is not restored, and load() forgets every entry of it beyond the pending ones.
   */
  private fresh: Map<string, number> | undefined = new Map();

  constructor(
    private readonly store: OutboxStore,
    private readonly report: (error: Error) => void,
  ) {}

  get loaded(): boolean {
    return this.fresh === undefined;
  }

  /**
   * Keep a message; the error to reject its `send()` with when the store refused it, or a
   * promise of it from an asynchronous store (the queue holds the message back until it settles).
   */
  add(id: string, data: string): OutboxStoreError | undefined | Promise<OutboxStoreError | undefined> {
    const refused = (cause: unknown) => new OutboxStoreError(`the outbox store could not keep message ${id}`, { cause });
    let keeping: void | Promise<void>;
    try {
      keeping = this.store.add({ id, data });
    } catch (cause) {
      return refused(cause);
    }
    const fresh = this.fresh;
    fresh?.set(id, (fresh.get(id) ?? 0) + 1);
    if (keeping === undefined || typeof keeping.then !== 'function') return undefined;
    return keeping.then(
      () => undefined,
      (cause: unknown) => {
        // Never kept, as if add() had thrown: not this run's entry after all.
        const pending = fresh?.get(id);
        if (pending === 1) fresh?.delete(id);
        else if (pending !== undefined && pending > 1) fresh?.set(id, pending - 1);
        return refused(cause);
      },
    );
  }

  remove(id: string): void {
    // Settled before loading: the removal may take an earlier run's entry (the oldest), so load()
    // must forget one entry more.
    const pending = this.fresh?.get(id);
    if (pending !== undefined && pending > 0) this.fresh?.set(id, pending - 1);
    this.removals.push(id);
    if (this.scheduled) return;
    this.scheduled = true;
    atTurnEnd(this.flush);
  }

  readonly flush = (): void => {
    this.scheduled = false;
    if (this.removals.length === 0) return;
    const ids = this.removals;
    this.removals = [];
    // Not fatal: the worst outcome is that these are sent again, under their ids, on the next start.
    const failed = (cause: unknown) => this.report(new OutboxStoreError(`the outbox store could not forget ${ids.length} settled message(s)`, { cause }));
    try {
      const removing = this.store.remove(ids);
      if (removing !== undefined && typeof removing.then === 'function') removing.then(undefined, failed);
    } catch (cause) {
      failed(cause);
    }
  };

  /** What earlier runs left, minus what this run already queued; rejects with `OutboxStoreError`. */
  async load(): Promise<LoadedOutbox> {
    let entries: readonly StoredMessage[];
    try {
      entries = await this.store.load();
      if (!Array.isArray(entries)) throw new TypeError('load() did not return an array');
    } catch (cause) {
      throw new OutboxStoreError('the outbox store could not load what an earlier run left', { cause });
    }
    const fresh = this.fresh ?? new Map<string, number>();
    this.fresh = undefined;
    const messages: StoredMessage[] = [];
    const bad: string[] = [];
    const seen = new Map<string, number>();
    let skipped = 0;
    for (const entry of entries) {
      const id = (entry as StoredMessage | undefined)?.id;
      if (fresh.has(id as string)) {
        seen.set(id as string, (seen.get(id as string) ?? 0) + 1);
        continue;
      }
      if (isSendable(entry)) {
        messages.push({ id: entry.id, data: entry.data });
      } else {
        skipped++;
        if (typeof entry?.id === 'string') bad.push(entry.id);
      }
    }
    // Forget what can never be sent, unless a good entry shares its id (removal goes by id).
    const good = new Set(messages.map((m) => m.id));
    for (const id of bad) if (!good.has(id)) this.remove(id);
    // An id this run sent again before loading: its own send stands for the earlier run's entries,
    // which go (removal takes the oldest entries of an id first).
    for (const [id, n] of seen) for (let i = fresh.get(id) ?? 0; i < n; i++) this.remove(id);
    return { messages, skipped };
  }

  close(): void {
    this.flush();
    const failed = (cause: unknown) => this.report(new OutboxStoreError('the outbox store failed to close', { cause }));
    try {
      const closing = this.store.close?.();
      if (closing !== undefined && typeof closing.then === 'function') closing.then(undefined, failed);
    } catch (cause) {
      failed(cause);
    }
  }
}

function isSendable(entry: StoredMessage | undefined): entry is StoredMessage {
  if (entry === null || typeof entry !== 'object') return false;
  const { id, data } = entry;
  if (typeof id !== 'string' || id.length === 0 || id.length > 128 || typeof data !== 'string') return false;
  try {
    JSON.parse(data);
    return true;
  } catch {
    return false;
  }
}
