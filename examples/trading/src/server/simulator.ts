import { SYMBOLS, type Side } from '../shared/market.js';
import type { Exchange } from './exchange.js';

export const simulatorDefaults = Object.freeze({
  /** One simulated order per symbol this often. */
  everyMs: 50,
  /** Resting orders the market maker keeps per symbol; past it, its oldest is cancelled. */
  maxResting: 30,
  /** Starting mid prices (cents), per symbol in SYMBOLS order. */
  mids: [6_500_000, 320_000] as readonly number[],
  /** Seed of the pseudo-random walk (the same seed, the same market). */
  seed: 1,
  /** Skip a turn while a feed has this many publications not yet stored (backpressure). */
  maxBacklog: 64,
});
type SimulatorConfig = { readonly [K in keyof typeof simulatorDefaults]: K extends 'mids' ? readonly number[] : number };
export type SimulatorOptions = Partial<SimulatorConfig>;

/** The simulated participant's user name: it has no session, so its fills are pushed to no one. */
export const MARKET_MAKER = 'market-maker';

/** mulberry32: a small seeded PRNG (public domain), so a test run's market is repeatable. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * The market-data simulator: a market maker that quotes around a mid price doing a random walk,
 * and now and then crosses the spread, so the book and the ticker move at a steady rate. It
 * trades through the same `Exchange.place()` as the pages.
 */
export class Simulator {
  private readonly o: SimulatorConfig;
  private readonly random: () => number;
  private readonly mids = new Map<string, number>();
  private readonly resting = new Map<string, string[]>();
  private timer: NodeJS.Timeout | undefined;
  private n = 0;

  constructor(
    private readonly exchange: Exchange,
    options: SimulatorOptions = {},
  ) {
    this.o = { ...simulatorDefaults, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
    this.random = prng(this.o.seed);
    SYMBOLS.forEach((symbol, i) => {
      this.mids.set(symbol, this.o.mids[i] ?? 10_000);
      this.resting.set(symbol, []);
    });
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  start(): void {
    this.timer ??= setInterval(() => SYMBOLS.forEach((s) => this.step(s)), this.o.everyMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private step(symbol: string): void {
    if (this.exchange.bookFeed(symbol).backlog > this.o.maxBacklog) return;
    const r = this.random;
    const tick = Math.max(1, Math.round(this.mids.get(symbol)! / 20_000)); // about 5 bp
    const mid = Math.max(tick * 20, this.mids.get(symbol)! + Math.round((r() - 0.5) * 2) * tick);
    this.mids.set(symbol, mid);
    const side: Side = r() < 0.5 ? 'buy' : 'sell';
    const aggressive = r() < 0.2;
    const away = (1 + Math.floor(r() * 8)) * tick * (aggressive ? -1 : 1);
    const price = side === 'buy' ? mid - away : mid + away;
    const clientOrderId = `sim-${symbol}-${++this.n}`;
    const order = this.exchange.place(MARKET_MAKER, { op: 'order', symbol, side, price, qty: 1 + Math.floor(r() * 9), clientOrderId });
    const queue = this.resting.get(symbol)!;
    if (order.status === 'resting' || order.status === 'partial') queue.push(clientOrderId);
    while (queue.length > this.o.maxResting) this.exchange.cancel(MARKET_MAKER, queue.shift()!);
  }
}
