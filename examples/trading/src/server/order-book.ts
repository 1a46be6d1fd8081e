import type { Level, Side } from '../shared/market.js';

/** An order resting in (or entering) the book. `remaining` is what is left to trade. */
export interface BookOrder {
  readonly id: number;
  readonly owner: string;
  readonly side: Side;
  readonly price: number;
  remaining: number;
}

/** One match: the incoming order (`taker`) traded `qty` at the resting order's (`maker`'s) price. */
export interface Trade {
  readonly maker: BookOrder;
  readonly taker: BookOrder;
  readonly price: number;
  readonly qty: number;
}

/**
 * A limit order book for one symbol with price-time priority: the best price trades first, and
 * at one price the order that arrived first. Levels are FIFO arrays in a Map keyed by price; the
 * sorted price list is rebuilt only when a level appears or disappears (a demo's few dozen levels).
 */
export class OrderBook {
  private readonly levels = { buy: new Map<number, BookOrder[]>(), sell: new Map<number, BookOrder[]>() };
  private readonly prices: Record<Side, number[]> = { buy: [], sell: [] };
  private readonly byId = new Map<number, BookOrder>();
  /** Levels whose total changed since the last `takeChanges()`: side → prices. */
  private readonly changed = { buy: new Set<number>(), sell: new Set<number>() };

  get size(): number {
    return this.byId.size;
  }

  best(side: Side): number | null {
    return this.prices[side][0] ?? null;
  }

  /** Matches `order` against the other side, then rests what is left. Returns the trades, in order. */
  submit(order: BookOrder): Trade[] {
    const trades: Trade[] = [];
    const other: Side = order.side === 'buy' ? 'sell' : 'buy';
    const crosses = (price: number): boolean => (order.side === 'buy' ? price <= order.price : price >= order.price);
    while (order.remaining > 0) {
      const price = this.prices[other][0];
      if (price === undefined || !crosses(price)) break;
      const queue = this.levels[other].get(price)!;
      const maker = queue[0]!;
      const qty = Math.min(maker.remaining, order.remaining);
      maker.remaining -= qty;
      order.remaining -= qty;
      trades.push({ maker, taker: order, price, qty });
      if (maker.remaining === 0) {
        queue.shift();
        this.byId.delete(maker.id);
      }
      this.touch(other, price);
    }
    if (order.remaining > 0) {
      let queue = this.levels[order.side].get(order.price);
      if (queue === undefined) this.levels[order.side].set(order.price, (queue = []));
      queue.push(order);
      this.byId.set(order.id, order);
      this.touch(order.side, order.price);
    }
    return trades;
  }

  /** Takes a resting order out; false when it is not resting (filled or unknown). */
  cancel(id: number): boolean {
    const order = this.byId.get(id);
    if (order === undefined) return false;
    const queue = this.levels[order.side].get(order.price)!;
    queue.splice(queue.indexOf(order), 1);
    this.byId.delete(id);
    this.touch(order.side, order.price);
    return true;
  }

  /** The book as levels (total quantity per price), best first. */
  levelsOf(side: Side): Level[] {
    return this.prices[side].map((price) => [price, this.total(side, price)] as const);
  }

  /** The levels changed since the last call, with their new totals (0: gone). */
  takeChanges(): { bids: Level[]; asks: Level[] } | undefined {
    if (this.changed.buy.size === 0 && this.changed.sell.size === 0) return undefined;
    const of = (side: Side): Level[] => [...this.changed[side]].map((price) => [price, this.total(side, price)] as const);
    const delta = { bids: of('buy'), asks: of('sell') };
    this.changed.buy.clear();
    this.changed.sell.clear();
    return delta;
  }

  private total(side: Side, price: number): number {
    let qty = 0;
    for (const o of this.levels[side].get(price) ?? []) qty += o.remaining;
    return qty;
  }

  private touch(side: Side, price: number): void {
    this.changed[side].add(price);
    const queue = this.levels[side].get(price);
    const listed = this.prices[side].includes(price);
    if (queue !== undefined && queue.length === 0) this.levels[side].delete(price);
    const present = this.levels[side].has(price);
    if (present !== listed) {
      this.prices[side] = [...this.levels[side].keys()].sort((a, b) => (side === 'buy' ? b - a : a - b));
    }
  }
}
