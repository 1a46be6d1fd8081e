// Everything the page decides once, at load: who the user is, where the WebSocket goes, the
// client with its durable outbox, and the metrics plugin the latency panel reads.
import { createClient, indexedDbOutbox, type LifelineClient, type OutboxStore } from '@lifeline/sdk';
import { metrics, type Metrics } from '@lifeline/metrics';

/** Demo tokens, as the server's `demoUsers` has them (a real page would get a token from its login). */
const TOKENS: Readonly<Record<string, string>> = { alice: 'alice-demo-token', bob: 'bob-demo-token' };

/**
 * A timed-out order's send() rejects with `AckTimeoutError`; until then it waits, queued in the
 * outbox through outages and reloads. A minute: long enough to ride out a short outage, short
 * enough that an order is not executed long after its trader gave up on it.
 */
export const ORDER_TIMEOUT_MS = 60_000;
/** `?orderTimeoutMs=` may set it between these (the test shortens it to show an unknown outcome). */
const ORDER_TIMEOUT_RANGE = [1_000, 600_000] as const;
/** Snapshots and queries: a short wait, retried by the page. */
export const QUERY_TIMEOUT_MS = 10_000;

/**
 * The one place the durable outbox store is chosen: `indexedDbOutbox()`, the recommended browser
 * store. Two tabs of one user each keep their own orders (Web Locks): a queued order is sent by
 * the tab that queued it, or adopted by the next page load once that tab is gone, never by both.
 */
function outboxFor(user: string): OutboxStore {
  return indexedDbOutbox({ name: `trading:${user}` });
}

export interface PageSetup {
  readonly user: string;
  readonly orderTimeoutMs: number;
  readonly client: LifelineClient;
  readonly metrics: Metrics;
}

export function setUp(location: Location): PageSetup {
  const params = new URLSearchParams(location.search);
  const user = params.get('user') ?? 'alice';
  const token = TOKENS[user];
  if (token === undefined) throw new Error(`unknown demo user ${user} (alice or bob)`);
  // `?ws=` points the page elsewhere (the test's fault proxy); by default the page's own server.
  const url = params.get('ws') ?? `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  const asked = Number(params.get('orderTimeoutMs') ?? ORDER_TIMEOUT_MS);
  const orderTimeoutMs = Number.isInteger(asked) ? Math.min(Math.max(asked, ORDER_TIMEOUT_RANGE[0]), ORDER_TIMEOUT_RANGE[1]) : ORDER_TIMEOUT_MS;
  const m = metrics({ windowMs: 60_000 });
  const client = createClient({
    url,
    auth: { token },
    outbox: outboxFor(user),
    ackTimeoutMs: orderTimeoutMs,
    // Outages in a trading UI are short and watched: come back fast, check often.
    reconnect: { minDelayMs: 200, maxDelayMs: 2_000, minUptimeMs: 1_000 },
    plugins: [m],
  });
  return { user, orderTimeoutMs, client, metrics: m };
}
