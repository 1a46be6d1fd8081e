import { OutboxStoreError, type Json } from '@lifeline/protocol';
import type { RestoredInfo, RestoredOutcome } from './events.js';
import type { Outbox } from './outbox.js';
import type { StoreLink } from './outbox-store.js';

export interface RestoreHost {
  /** The client closed (or started closing) meanwhile: what was loaded stays in the store. */
  stopped(): boolean;
  /** Entries the store held that could not be sent (not fatal). */
  error(error: OutboxStoreError): void;
  restored(info: RestoredInfo): void;
  settled(outcome: RestoredOutcome): void;
}

/**
 * The durable outbox at the first `connect()` (DESIGN.md guarantee 8): what an earlier run left
 * is queued ahead of anything new, under its ids; `restored-settled` tells each outcome (there is
 * no `send()` caller). Rejects with `OutboxStoreError` when the store cannot load: that
 * `connect()` fails with it, and the next one tries again.
 */
export async function restoreOutbox(store: StoreLink, outbox: Outbox, host: RestoreHost): Promise<void> {
  const loaded = await store.load();
  if (host.stopped()) return;
  if (loaded.skipped > 0) {
    host.error(new OutboxStoreError(`skipped ${loaded.skipped} entries of the outbox store that could not be sent (bad id or data)`));
  }
  if (loaded.messages.length === 0) return;
  outbox.restore(loaded.messages, (id, result, error) =>
    host.settled(error === undefined ? { id, result: result as Json } : { id, error }),
  );
  host.restored({ ids: loaded.messages.map((m) => m.id) });
}
