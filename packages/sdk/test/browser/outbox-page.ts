// The page of the outbox tests in Chromium (bundled by esbuild): one Lifeline client per tab on an
// `indexedDbOutbox`, driven by the test through `window.tab`.
import { createClient, indexedDbOutbox, type Client, type Json, type RestoredOutcome } from '@lifeline/sdk';

export interface Tab {
  client: Client | undefined;
  /** Ids each restore (`restored` event) took from the outbox. */
  readonly restored: string[][];
  readonly settled: RestoredOutcome[];
  /** Outcome of each `send()` by id: its result, or the error's code. */
  readonly outcomes: Record<string, { result?: Json; error?: string }>;
  /** A client on the outbox `name`, through `url`; connects unless `connect` is false. */
  start(url: string, name: string, connect?: boolean): Promise<void>;
  connect(): Promise<void>;
  /** Starts one send per id (not awaited: `outcomes` records how each ends). */
  send(ids: string[]): void;
  /** Entries in the outbox database right now, over every tab. */
  stored(name: string): Promise<number>;
  /** Web Locks held right now by runs of the outbox `name`, over every tab. */
  runs(name: string): Promise<number>;
}

const tab: Tab = {
  client: undefined,
  restored: [],
  settled: [],
  outcomes: {},
  async start(url, name, connect = true) {
    const client = createClient({ url, outbox: indexedDbOutbox({ name }), reconnect: { minDelayMs: 50, maxDelayMs: 300 }, heartbeatTimeoutMs: 2_000 });
    tab.client = client;
    client.on('error', () => {});
    client.on('restored', ({ ids }) => tab.restored.push([...ids]));
    client.on('restored-settled', (outcome) => tab.settled.push(outcome));
    if (connect) await tab.connect();
  },
  async connect() {
    await tab.client!.connect({ timeoutMs: 10_000 });
  },
  send(ids) {
    for (const id of ids) {
      tab.client!.send({ id }, { id, timeoutMs: 30_000 }).then(
        (result) => (tab.outcomes[id] = { result }),
        (error: { code?: string }) => (tab.outcomes[id] = { error: error.code ?? String(error) }),
      );
    }
  },
  stored(name) {
    return new Promise((resolve, reject) => {
      const open = indexedDB.open(`lifeline-outbox:${name}`);
      // No database yet: do not create one (an empty one would lack the store's layout).
      open.onupgradeneeded = () => open.transaction?.abort();
      open.onerror = () => (open.error?.name === 'AbortError' ? resolve(0) : reject(open.error));
      open.onsuccess = () => {
        const db = open.result;
        if (!db.objectStoreNames.contains('entries')) return resolve(0);
        const count = db.transaction('entries').objectStore('entries').count();
        count.onsuccess = () => {
          db.close();
          resolve(count.result);
        };
        count.onerror = () => reject(count.error);
      };
    });
  },
  async runs(name) {
    const { held = [] } = await navigator.locks.query();
    return held.filter((lock) => lock.name?.startsWith(`lifeline-outbox:${name}:`)).length;
  },
};

(window as unknown as { tab: Tab }).tab = tab;
