// The trading page in Chromium, through the fault proxy: orders entered while the link is cut,
// orders placed offline that survive a reload and execute once, a fill on a resting order pushed
// to the page, and a book and ticker that recover from a gap (snapshot + replay) to equal the
// server's. The page is built with Vite's JS API into a temp directory, from the sources.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { closeAll, onCleanup, poll, startProxy } from '@lifeline/test-kit';
import { openPage } from '../../dashboard/test/chromium.js';
import { pageConfig } from '../vite.config.js';
import { startTrading, type Trading } from '../src/server/app.js';
import { bookChannel, formatPrice, tickerChannel, type Side } from '../src/shared/market.js';

/** Written only with LIFELINE_SCREENSHOT=1, so that test runs leave the tree clean. */
const SCREENSHOT_PATH = fileURLToPath(new URL('../../../docs/img/trading.png', import.meta.url));
const SCREENSHOT = process.env.LIFELINE_SCREENSHOT === '1';
const SYMBOL = 'BTC-USD';
const HISTORY = 10;
const WAIT = 30_000;

let outDir: string;
beforeAll(async () => {
  outDir = await mkdtemp(join(tmpdir(), 'lifeline-trading-page-'));
  await build(pageConfig(outDir));
}, 60_000);
afterAll(() => rm(outDir, { recursive: true, force: true }));

/** What main.tsx leaves on `window` for tests: the page's order journal. */
type PageWindow = { trading: { journal: { entries(): ReadonlyArray<{ clientOrderId: string }> } } };

/** Places an order through the page's form; resolves with its clientOrderId. */
async function place(page: Page, side: Side, cents: number, qty: number): Promise<string> {
  const before = await page.evaluate(() => (window as unknown as PageWindow).trading.journal.entries().length);
  await page.click(`label.side.${side}`);
  await page.fill('input[name=price]', formatPrice(cents));
  await page.fill('input[name=qty]', String(qty));
  await page.click('button[type=submit]');
  await page.waitForFunction((n) => (window as unknown as PageWindow).trading.journal.entries().length > n, before, { timeout: WAIT });
  return page.evaluate(() => (window as unknown as PageWindow).trading.journal.entries().at(-1)!.clientOrderId);
}

const row = (id: string, status: string): string => `tr[data-order="${id}"][data-status="${status}"]`;
const connection = (page: Page): Promise<string | null> => page.getAttribute('[data-connection]', 'data-connection');

describe('trading example in Chromium', () => {
  afterEach(closeAll);

  it('executes every order once through cuts, an offline reload and a gap, and shows the server book', async () => {
    const trading: Trading = await startTrading({ staticDir: outDir, historySize: HISTORY, bookEveryMs: 40, tickerEveryMs: 100, simulatorEveryMs: 20 });
    onCleanup(() => trading.close());
    const { exchange } = trading;
    const proxy = await startProxy(trading.port);
    const { page, pageErrors } = await openPage();
    await page.goto(`${trading.url}?user=alice&ws=${encodeURIComponent(proxy.url('/ws'))}`, { timeout: WAIT });
    await page.waitForSelector('[data-connection="open"]', { timeout: WAIT });
    await page.waitForSelector(`[data-book="${SYMBOL}"][data-status="live"] tr[data-level="ask"]`, { timeout: WAIT });
    const far = (): { buy: number; sell: number; through: number } => {
      const { bid, ask } = exchange.top(SYMBOL);
      const mid = ((bid ?? ask)! + (ask ?? bid)!) / 2;
      return { buy: Math.round(mid * 0.9), sell: Math.round(mid * 1.1), through: Math.round(mid * 1.05) };
    };

    // 1. Cuts during order entry: each click is followed at once by a cut of the link.
    const a = await place(page, 'buy', far().through, 1);
    proxy.cutAll();
    const b = await place(page, 'buy', far().buy, 2);
    proxy.cutAll();
    await page.waitForSelector(row(a, 'filled'), { timeout: WAIT });
    await page.waitForSelector(row(b, 'resting'), { timeout: WAIT });

    // 2. Orders placed while the link is down, then a reload before it is back.
    proxy.refuse(true);
    proxy.cutAll();
    await page.waitForFunction(() => document.querySelector('[data-connection]')?.getAttribute('data-connection') !== 'open', undefined, { timeout: WAIT });
    const c = await place(page, 'buy', far().through, 1);
    const d = await place(page, 'buy', far().buy, 3);
    await page.waitForSelector(row(c, 'queued'), { timeout: WAIT });
    await page.waitForSelector(row(d, 'queued'), { timeout: WAIT });
    expect(exchange.executions.get(`alice/${c}`)).toBeUndefined();
    await page.reload({ timeout: WAIT });
    await page.waitForSelector(row(c, 'queued'), { timeout: WAIT }); // the page's journal, read back
    await page.waitForSelector(row(d, 'queued'), { timeout: WAIT });
    expect(await connection(page)).not.toBe('open');
    proxy.heal();
    await page.waitForSelector('[data-connection="open"]', { timeout: WAIT });
    await page.waitForSelector(row(c, 'filled'), { timeout: WAIT });
    await page.waitForSelector(row(d, 'resting'), { timeout: WAIT });

    // 3. A resting order trades: the page hears it from session.send(), not from its own send().
    // Bob sells down to alice's price: every bid at or above it, hers included (better bids trade first).
    const price = exchange.order('alice', d)!.price;
    const qty = exchange.book(SYMBOL).bids.filter(([p]) => p >= price).reduce((sum, [, q]) => sum + q, 0);
    exchange.place('bob', { op: 'order', clientOrderId: 'bob-1', symbol: SYMBOL, side: 'sell', price, qty });
    await page.waitForSelector(row(d, 'filled'), { timeout: WAIT });

    // Each order executed exactly once on the server, and the page shows the server's fills.
    for (const id of [a, b, c, d]) expect(exchange.executions.get(`alice/${id}`), id).toBe(1);
    for (const id of [a, c, d]) {
      const server = exchange.order('alice', id)!;
      expect(server.status).toBe('filled');
      const shown = await page.$$eval(`[data-fills] tr[data-order="${id}"]`, (rows) => rows.map((r) => Number(r.getAttribute('data-fill'))));
      expect(shown.sort((x, y) => x - y)).toEqual(server.fills.map((f) => f.tradeId).sort((x, y) => x - y));
    }

    // 4. A gap on the reloaded page: a second long outage, then the book equals the server's.
    const seen = async (what: 'book' | 'ticker') => Number(await page.getAttribute(`[data-${what}="${SYMBOL}"]`, 'data-offset'));
    const [bookSeen, tickerSeen] = [await seen('book'), await seen('ticker')];
    proxy.refuse(true);
    proxy.cutAll();
    const offsetOf = (channel: string) => (exchange.snapshot(channel) as { offset: number }).offset;
    await poll(
      () => offsetOf(bookChannel(SYMBOL)) > bookSeen + HISTORY + 5 && offsetOf(tickerChannel(SYMBOL)) > tickerSeen + HISTORY + 5,
      'the book and the ticker to move past their history',
      WAIT,
      20,
    );
    proxy.heal();
    await page.waitForSelector(`[data-book="${SYMBOL}"][data-gaps="1"][data-status="live"]`, { timeout: WAIT });
    await page.waitForSelector(`[data-ticker="${SYMBOL}"][data-gaps="1"][data-status="live"]`, { timeout: WAIT });

    trading.simulator.stop();
    await exchange.flush();
    const final = exchange.bookFeed(SYMBOL).snapshot();
    expect(final.state).toEqual(exchange.book(SYMBOL)); // what was published is the matching engine's book
    await page.waitForSelector(`[data-book="${SYMBOL}"][data-offset="${final.offset}"]`, { timeout: WAIT });
    const depth = Number(await page.getAttribute(`[data-book="${SYMBOL}"]`, 'data-depth'));
    const levels = (side: string) =>
      page.$$eval(`[data-book] tr[data-level="${side}"]`, (rows) => rows.map((r) => [Number(r.getAttribute('data-price')), Number(r.getAttribute('data-qty'))]));
    expect(await levels('bid')).toEqual(final.state.bids.slice(0, depth));
    expect((await levels('ask')).reverse()).toEqual(final.state.asks.slice(0, depth));
    expect(final.channel).toBe(bookChannel(SYMBOL));

    if (SCREENSHOT) {
      await mkdir(dirname(SCREENSHOT_PATH), { recursive: true });
      await page.screenshot({ path: SCREENSHOT_PATH, fullPage: true });
    }
    expect(pageErrors).toEqual([]);
  }, 180_000);

  it('shows a timed-out order as an unknown outcome, then settles it by a status query', async () => {
    const trading: Trading = await startTrading({ staticDir: outDir, simulatorEveryMs: 50 });
    onCleanup(() => trading.close());
    const { exchange } = trading;
    const proxy = await startProxy(trading.port);
    const { page, pageErrors } = await openPage();
    await page.goto(`${trading.url}?user=alice&orderTimeoutMs=1500&ws=${encodeURIComponent(proxy.url('/ws'))}`, { timeout: WAIT });
    await page.waitForSelector(`[data-book="${SYMBOL}"][data-status="live"] tr[data-level="ask"]`, { timeout: WAIT });

    // A half-open link: the order leaves the page and is lost on the way; no answer comes back.
    proxy.silence(true);
    const { ask } = exchange.top(SYMBOL);
    const x = await place(page, 'buy', Math.round(ask! * 1.05), 1);
    await page.waitForSelector(row(x, 'unknown'), { timeout: WAIT });
    expect(exchange.executions.get(`alice/${x}`)).toBeUndefined();

    // The link is back: the page asks the exchange, whose answer is final (filled, or void: never executed).
    proxy.heal();
    proxy.cutAll();
    await page.waitForSelector(`${row(x, 'filled')}, ${row(x, 'void')}`, { timeout: WAIT });
    const status = await page.getAttribute(`tr[data-order="${x}"]`, 'data-status');
    expect(exchange.order('alice', x)?.status).toBe(status);
    expect(exchange.executions.get(`alice/${x}`) ?? 0).toBe(status === 'filled' ? 1 : 0);
    expect(pageErrors).toEqual([]);
  }, 150_000);
});
