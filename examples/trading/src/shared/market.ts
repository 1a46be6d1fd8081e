// What the exchange and the page agree on: the messages of `client.send()`, the channel payloads,
// and the reducers both sides apply to them (the server to keep the state a snapshot returns, the
// page to follow the channel), so a snapshot plus the publications after its offset is the book.

export const SYMBOLS = ['BTC-USD', 'ETH-USD'] as const;
export type Symbol = (typeof SYMBOLS)[number];
export type Side = 'buy' | 'sell';

export const bookChannel = (symbol: string): string => `book:${symbol}`;
export const tickerChannel = (symbol: string): string => `ticker:${symbol}`;

/** Prices are integers in cents (no floating point in matching), shown as dollars. */
export const formatPrice = (cents: number): string => (cents / 100).toFixed(2);

/** One price level: [price in cents, total quantity resting there]. */
export type Level = readonly [price: number, qty: number];

/** An order book side by side: bids best (highest) first, asks best (lowest) first. */
export interface BookState {
  readonly bids: readonly Level[];
  readonly asks: readonly Level[];
}

/** A `book:<sym>` publication: the new total of each level that changed (0: the level is gone). */
export interface BookDelta {
  readonly bids: readonly Level[];
  readonly asks: readonly Level[];
}

/** A `ticker:<sym>` publication; each replaces the previous one. */
export interface TickerState {
  readonly symbol: string;
  /** Last trade price (cents), or null before the first trade. */
  readonly last: number | null;
  readonly bid: number | null;
  readonly ask: number | null;
  /** Quantity traded since the exchange started. */
  readonly volume: number;
  readonly trades: number;
  /** Server wall clock when published (ms since the epoch). */
  readonly at: number;
}

export const emptyBook: BookState = { bids: [], asks: [] };

function applySide(levels: readonly Level[], changes: readonly Level[], descending: boolean): Level[] {
  const byPrice = new Map<number, number>(levels);
  for (const [price, qty] of changes) {
    if (qty > 0) byPrice.set(price, qty);
    else byPrice.delete(price);
  }
  return [...byPrice].sort((a, b) => (descending ? b[0] - a[0] : a[0] - b[0]));
}

/** The book after a delta: levels are set to their new totals, so the order of deltas matters, not their size. */
export function applyBookDelta(book: BookState, delta: BookDelta): BookState {
  return { bids: applySide(book.bids, delta.bids, true), asks: applySide(book.asks, delta.asks, false) };
}

export const applyTicker = (_previous: TickerState | null, next: TickerState): TickerState => next;

// ---- client.send() messages ------------------------------------------------------------------

export interface OrderRequest {
  readonly op: 'order';
  readonly symbol: string;
  readonly side: Side;
  /** Limit price in cents. */
  readonly price: number;
  readonly qty: number;
  /** The page's own id for the order, also the Lifeline message id: the app-level idempotency key. */
  readonly clientOrderId: string;
}

/** The state of a channel's reducer at a channel offset: replay the publications after `offset`. */
export interface SnapshotResult<S> {
  readonly channel: string;
  readonly state: S;
  readonly offset: number;
  readonly epoch: string;
}

export type Request =
  | OrderRequest
  | { readonly op: 'snapshot'; readonly channel: string }
  | { readonly op: 'orders' }
  | { readonly op: 'status'; readonly clientOrderId: string }
  | { readonly op: 'cancel'; readonly clientOrderId: string };

export interface Fill {
  readonly tradeId: number;
  readonly price: number;
  readonly qty: number;
  readonly at: number;
}

/**
 * `void`: the exchange never received this order, and now never will (a status query closed its
 * id); `rejected`: received and refused (`reason`).
 */
export type OrderStatus = 'resting' | 'partial' | 'filled' | 'cancelled' | 'rejected' | 'void';

/** An order as the exchange sees it: the result of `order`, the items of `orders`, the answer of `status`. */
export interface OrderView {
  readonly clientOrderId: string;
  readonly symbol: string;
  readonly side: Side;
  readonly price: number;
  readonly qty: number;
  readonly filled: number;
  readonly status: OrderStatus;
  readonly fills: readonly Fill[];
  readonly reason?: string;
  /** Set on the answer to an order id the exchange had already taken: it was not executed again. */
  readonly duplicate?: true;
}

/** A `session.send()` to every session of the order's owner when a resting order trades. */
export interface OrderUpdate {
  readonly type: 'order-update';
  readonly order: OrderView;
}

const CLIENT_ORDER_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Why an order request is malformed, or undefined when it is well-formed. */
export function invalidOrder(o: Partial<OrderRequest>): string | undefined {
  if (typeof o.clientOrderId !== 'string' || !CLIENT_ORDER_ID.test(o.clientOrderId)) return 'clientOrderId must be 1–64 of A–Z a–z 0–9 _ -';
  if (!SYMBOLS.includes(o.symbol as Symbol)) return `unknown symbol ${String(o.symbol)}`;
  if (o.side !== 'buy' && o.side !== 'sell') return 'side must be buy or sell';
  if (!Number.isSafeInteger(o.price) || (o.price as number) < 1 || (o.price as number) > 100_000_000) return 'price must be an integer number of cents, 1 to 100,000,000';
  if (!Number.isSafeInteger(o.qty) || (o.qty as number) < 1 || (o.qty as number) > 1_000_000) return 'qty must be an integer, 1 to 1,000,000';
  return undefined;
}
