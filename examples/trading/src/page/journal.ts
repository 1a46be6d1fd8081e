// The page's own record of the orders it placed, in localStorage: an order queued while offline
// is shown after a reload (the SDK's outbox holds the message; this holds what the trader sees),
// and every answer — send() result, restored result, push, status query — updates it by
// clientOrderId. Bounded: the newest MAX_ORDERS are kept.
import { useSyncExternalStore } from 'react';
import type { OrderView, Side } from '../shared/market.js';

const MAX_ORDERS = 200;

/**
 * What the page knows of an order. Beyond the exchange's statuses: `queued` (in the outbox, not
 * yet answered), `unknown` (its send() timed out after it left the page: it may have executed),
 * `not-sent` (failed before it ever left the page: it did not execute).
 */
export type JournalStatus = OrderView['status'] | 'queued' | 'unknown' | 'not-sent';

export interface JournalEntry extends Omit<OrderView, 'status'> {
  readonly status: JournalStatus;
  readonly placedAt: number;
  /** Why the page could not tell (the send()'s error), for `unknown` and `not-sent`. */
  readonly note?: string;
}

export interface Journal {
  entries(): readonly JournalEntry[];
  get(clientOrderId: string): JournalEntry | undefined;
  add(entry: JournalEntry): void;
  /** Takes the exchange's view of an order it knows (a newer fill count never goes back). */
  update(view: OrderView): void;
  mark(clientOrderId: string, status: JournalStatus, note?: string): void;
  subscribe(listener: () => void): () => void;
}

export function createJournal(storage: Storage, user: string): Journal {
  const key = `trading-orders:${user}`;
  const listeners = new Set<() => void>();
  let list: readonly JournalEntry[] = load();

  function load(): JournalEntry[] {
    try {
      const parsed: unknown = JSON.parse(storage.getItem(key) ?? '[]');
      return Array.isArray(parsed) ? (parsed as JournalEntry[]) : [];
    } catch {
      return [];
    }
  }
  function save(next: readonly JournalEntry[]): void {
    list = next.slice(-MAX_ORDERS);
    try {
      storage.setItem(key, JSON.stringify(list));
    } catch {
      // Storage full: the page still shows it; a reload would lose only this view, not the order.
    }
    for (const listener of listeners) listener();
  }
  const replace = (id: string, change: (e: JournalEntry) => JournalEntry): void => {
    if (!list.some((e) => e.clientOrderId === id)) return;
    save(list.map((e) => (e.clientOrderId === id ? change(e) : e)));
  };

  return {
    entries: () => list,
    get: (id) => list.find((e) => e.clientOrderId === id),
    add: (entry) => save([...list.filter((e) => e.clientOrderId !== entry.clientOrderId), entry]),
    update(view) {
      replace(view.clientOrderId, (e) => {
        if (view.status === 'void') return { ...e, status: 'void', fills: [], filled: 0 };
        if (e.status !== 'queued' && e.status !== 'unknown' && e.filled > view.filled) return e; // an older answer
        const { duplicate: _duplicate, ...rest } = view;
        return { ...e, ...rest, placedAt: e.placedAt };
      });
    },
    mark: (id, status, note) => replace(id, (e) => ({ ...e, status, ...(note === undefined ? {} : { note }) })),
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

export function useJournal(journal: Journal): readonly JournalEntry[] {
  return useSyncExternalStore(journal.subscribe, journal.entries);
}

export type { Side };
