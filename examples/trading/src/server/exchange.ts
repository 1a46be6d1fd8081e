import type { HandlerContext, LifelineServer, Session } from '@lifeline/server';
import {
  SYMBOLS,
  applyBookDelta,
  applyTicker,
  bookChannel,
  emptyBook,
  invalidOrder,
  tickerChannel,
  type BookDelta,
  type BookState,
  type Fill,
  type OrderRequest,
  type OrderUpdate,
  type OrderView,
  type Side,
  type TickerState,
} from '../shared/market.js';
import { Feed } from './feed.js';
import { OrderBook, type BookOrder } from './order-book.js';

export const exchangeDefaults = Object.freeze({
  /** The book's changes are coalesced and published this often (one `book:<sym>` publication per tick at most). */
  bookEveryMs: 100,
  /** The ticker is published this often, traded or not: a steady stream. */
  tickerEveryMs: 250,
  /** Orders resting per symbol at most; past it an order is rejected (`book full`). */
  maxResting: 5_000,
  /** Orders remembered per user (by clientOrderId); the oldest finished ones are forgotten first. */
  maxOrdersPerUser: 1_000,
  /** Fills kept per order (a large order against many small ones). */
  maxFillsPerOrder: 50,
});
export type ExchangeOptions = { readonly [K in keyof typeof exchangeDefaults]?: number } & { readonly report?: (error: Error) => void };

interface OrderRecord {
  readonly request: OrderRequest;
  readonly book: BookOrder | undefined;
  status: OrderView['status'];
  filled: number;
  readonly fills: Fill[];
  readonly reason: string | undefined;
  /** What the first `order` call answered: a duplicate gets it again. */
  firstResult: OrderView | undefined;
}

/** A user's order records by clientOrderId, in arrival order (a Map keeps it), bounded. */
type Orders = Map<string, OrderRecord>;

const ongoing = (status: OrderView['status']): boolean => status === 'resting' || status === 'partial';

/**
 * The exchange: one `OrderBook` per symbol, every user's orders by clientOrderId, and the feeds
 * (`book:<sym>`, `ticker:<sym>`). `handle()` is the Lifeline handler: the server calls it once per
 * message (guarantee 1); the clientOrderId check below is the belt for what that guarantee does
 * not cover — the same order sent again by a new session (a page reload, a lost session).
 */
export class Exchange {
  private readonly o: { readonly [K in keyof typeof exchangeDefaults]: number };
  private readonly report: (error: Error) => void;
  private readonly books = new Map<string, OrderBook>();
  private readonly bookFeeds = new Map<string, Feed<BookState, BookDelta>>();
  private readonly tickerFeeds = new Map<string, Feed<TickerState | null, TickerState>>();
  private readonly stats = new Map<string, { last: number | null; volume: number; trades: number }>();
  private readonly users = new Map<string, Orders>();
  private readonly sessions = new Map<string, Set<Session>>();
  private readonly owners = new Map<number, { user: string; record: OrderRecord }>();
  private readonly timers: NodeJS.Timeout[] = [];
  private nextOrderId = 1;
  private nextTradeId = 1;
  /** How many times each `user/clientOrderId` was executed (entered the book): the test checks 1. */
  readonly executions = new Map<string, number>();

  constructor(
    private readonly server: LifelineServer,
    options: ExchangeOptions = {},
  ) {
    this.o = { ...exchangeDefaults, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
    this.report = options.report ?? (() => {});
    for (const symbol of SYMBOLS) {
      this.books.set(symbol, new OrderBook());
      this.bookFeeds.set(symbol, new Feed(server, bookChannel(symbol), emptyBook, applyBookDelta, this.report));
      this.tickerFeeds.set(symbol, new Feed<TickerState | null, TickerState>(server, tickerChannel(symbol), null, applyTicker, this.report));
      this.stats.set(symbol, { last: null, volume: 0, trades: 0 });
    }
  }

  /** Publishes each channel's first state (so each has an epoch), then starts the steady ticks. */
  async start(): Promise<void> {
    for (const symbol of SYMBOLS) {
      this.bookFeeds.get(symbol)!.publish({ bids: [], asks: [] });
      this.publishTicker(symbol);
    }
    await Promise.all([...this.bookFeeds.values(), ...this.tickerFeeds.values()].map((f) => f.settled()));
    this.timers.push(setInterval(() => SYMBOLS.forEach((s) => this.publishBook(s)), this.o.bookEveryMs));
    this.timers.push(setInterval(() => SYMBOLS.forEach((s) => this.publishTicker(s)), this.o.tickerEveryMs));
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
  }

  /** Publishes what changed now rather than at the next tick, and resolves once all is stored. */
  async flush(): Promise<void> {
    for (const symbol of SYMBOLS) this.publishBook(symbol);
    await Promise.all([...this.bookFeeds.values(), ...this.tickerFeeds.values()].map((f) => f.settled()));
  }

  /** The matching engine's book right now (levels), for tests and the snapshot's cross-check. */
  book(symbol: string): BookState {
    const book = this.books.get(symbol);
    if (book === undefined) throw new RangeError(`unknown symbol ${symbol}`);
    return { bids: book.levelsOf('buy'), asks: book.levelsOf('sell') };
  }

  bookFeed(symbol: string): Feed<BookState, BookDelta> {
    return this.bookFeeds.get(symbol)!;
  }

  /** Best bid and ask (cents), for the simulator's quotes. */
  top(symbol: string): { bid: number | null; ask: number | null; last: number | null } {
    const book = this.books.get(symbol)!;
    return { bid: book.best('buy'), ask: book.best('sell'), last: this.stats.get(symbol)!.last };
  }

  /** A user's order, as the exchange sees it now. */
  order(user: string, clientOrderId: string): OrderView | undefined {
    const record = this.users.get(user)?.get(clientOrderId);
    return record && view(record);
  }

  /** The Lifeline handler: every `client.send()` of every page. */
  handle = (data: unknown, ctx: HandlerContext): unknown => {
    const user = userOf(ctx.session);
    const request = (data ?? {}) as { op?: unknown } & Record<string, unknown>;
    switch (request.op) {
      case 'order':
        return this.place(user, request as unknown as OrderRequest);
      case 'snapshot':
        return this.snapshot(String(request.channel));
      case 'orders':
        return { orders: [...(this.users.get(user)?.values() ?? [])].slice(-100).map(view) };
      case 'status':
        return this.status(user, String(request.clientOrderId));
      case 'cancel':
        return this.cancel(user, String(request.clientOrderId));
      default:
        throw new TypeError(`unknown op ${JSON.stringify(request.op)}`);
    }
  };

  /** Order entry: the answer is the order after matching (filled, partly filled and resting, or rejected). */
  place(user: string, request: OrderRequest): OrderView {
    const orders = this.ordersOf(user);
    const known = orders.get(String(request.clientOrderId));
    if (known !== undefined) return { ...(known.firstResult ?? view(known)), duplicate: true };

    const invalid = invalidOrder(request);
    const book = invalid === undefined ? this.books.get(request.symbol)! : undefined;
    const reason = invalid ?? (book!.size >= this.o.maxResting ? 'book full' : undefined);
    const { clientOrderId, symbol, side, price, qty } = request;
    if (reason !== undefined) {
      // Only a well-formed id is remembered: a malformed one could not be looked up anyway.
      const rejected: OrderRecord = { request, book: undefined, status: 'rejected', filled: 0, fills: [], reason, firstResult: undefined };
      if (invalidOrder({ ...request, symbol: SYMBOLS[0], side: 'buy', price: 1, qty: 1 }) === undefined) this.remember(orders, rejected);
      return (rejected.firstResult = view(rejected));
    }

    const entering: BookOrder = { id: this.nextOrderId++, owner: user, side, price, remaining: qty };
    const record: OrderRecord = { request: { op: 'order', clientOrderId, symbol, side, price, qty }, book: entering, status: 'resting', filled: 0, fills: [], reason: undefined, firstResult: undefined };
    this.remember(orders, record);
    this.owners.set(entering.id, { user, record });
    const key = `${user}/${clientOrderId}`;
    this.executions.set(key, (this.executions.get(key) ?? 0) + 1);
    this.match(symbol, entering);
    return (record.firstResult = view(record));
  }

  /** A status query: the order if the exchange has it, else its id is closed (`void`) so it can never execute later. */
  status(user: string, clientOrderId: string): OrderView {
    const orders = this.ordersOf(user);
    const known = orders.get(clientOrderId);
    if (known !== undefined) return view(known);
    const request: OrderRequest = { op: 'order', clientOrderId, symbol: '', side: 'buy', price: 0, qty: 0 };
    const closed: OrderRecord = { request, book: undefined, status: 'void', filled: 0, fills: [], reason: 'not received; closed by a status query', firstResult: undefined };
    this.remember(orders, closed);
    return (closed.firstResult = view(closed));
  }

  /** Takes what is left of a resting order out of the book; answers the order as it is now. */
  cancel(user: string, clientOrderId: string): OrderView | { status: 'unknown' } {
    const record = this.users.get(user)?.get(clientOrderId);
    if (record === undefined) return { status: 'unknown' };
    if (record.book !== undefined && ongoing(record.status) && this.books.get(record.request.symbol)!.cancel(record.book.id)) {
      record.status = 'cancelled';
      this.owners.delete(record.book.id);
    }
    return view(record);
  }

  snapshot(channel: string): unknown {
    const [kind, symbol = ''] = channel.split(':');
    const feed = kind === 'book' ? this.bookFeeds.get(symbol) : kind === 'ticker' ? this.tickerFeeds.get(symbol) : undefined;
    if (feed === undefined) throw new RangeError(`no snapshot of ${channel}`);
    return feed.snapshot();
  }

  /** Who is connected as `user`: order updates go to each of their sessions. */
  attach(session: Session): void {
    const user = userOf(session);
    let set = this.sessions.get(user);
    if (set === undefined) this.sessions.set(user, (set = new Set()));
    set.add(session);
    session.on('close', () => {
      set.delete(session);
      if (set.size === 0 && this.sessions.get(user) === set) this.sessions.delete(user);
    });
  }

  private match(symbol: string, entering: BookOrder): void {
    const trades = this.books.get(symbol)!.submit(entering);
    const stats = this.stats.get(symbol)!;
    const at = Date.now();
    for (const trade of trades) {
      const fill = { tradeId: this.nextTradeId++, price: trade.price, qty: trade.qty, at };
      stats.last = trade.price;
      stats.volume += trade.qty;
      stats.trades++;
      for (const order of [trade.taker, trade.maker]) {
        const owner = this.owners.get(order.id);
        if (owner === undefined) continue;
        const { record } = owner;
        // Counted per trade (submit() has already matched the whole order, so `remaining` is final).
        record.filled += trade.qty;
        const done = record.filled === record.request.qty;
        record.status = done ? 'filled' : 'partial';
        if (record.fills.length < this.o.maxFillsPerOrder) record.fills.push(fill);
        if (done) this.owners.delete(order.id);
        // The taker learns its fills from its send()'s result; a resting order's owner from a push.
        if (order === trade.maker) this.push(owner.user, { type: 'order-update', order: view(record) });
      }
    }
  }

  private push(user: string, update: OrderUpdate): void {
    for (const session of this.sessions.get(user) ?? []) {
      // Rejects only when the session ends or the client stays away past the deadline; the page
      // fetches `orders` when it (re)connects, so nothing is lost for it.
      session.send(update, { timeoutMs: 60_000 }).catch(() => {});
    }
  }

  private publishBook(symbol: string): void {
    const delta = this.books.get(symbol)!.takeChanges();
    if (delta !== undefined) this.bookFeeds.get(symbol)!.publish(delta);
  }

  private publishTicker(symbol: string): void {
    const { bid, ask } = this.top(symbol);
    const { last, volume, trades } = this.stats.get(symbol)!;
    this.tickerFeeds.get(symbol)!.publish({ symbol, last, bid, ask, volume, trades, at: Date.now() });
  }

  private ordersOf(user: string): Orders {
    let orders = this.users.get(user);
    if (orders === undefined) this.users.set(user, (orders = new Map()));
    return orders;
  }

  private remember(orders: Orders, record: OrderRecord): void {
    orders.set(record.request.clientOrderId, record);
    if (orders.size <= this.o.maxOrdersPerUser) return;
    // Forget the oldest finished order; resting ones stay (they are bounded by maxResting).
    for (const [id, r] of orders) {
      if (!ongoing(r.status)) {
        orders.delete(id);
        return;
      }
    }
  }
}

/** The identity `authenticate` gave the session: `{ sub }`. */
export function userOf(session: Session): string {
  const sub = (session.identity as { sub?: unknown } | null)?.sub;
  if (typeof sub !== 'string') throw new TypeError('session has no user');
  return sub;
}

function view(r: OrderRecord): OrderView {
  const { clientOrderId, symbol, side, price, qty } = r.request;
  const v: OrderView = { clientOrderId, symbol, side, price, qty, filled: r.filled, status: r.status, fills: r.fills.slice() };
  return r.reason === undefined ? v : { ...v, reason: r.reason };
}

export type { Side };
