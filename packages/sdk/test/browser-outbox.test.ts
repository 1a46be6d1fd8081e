// indexedDbOutbox in real Chromium (DESIGN.md guarantee 8, issue 13): the SDK bundled from source
// by esbuild into a page (test/browser/outbox-page.ts), tabs of one origin sharing one outbox, a
// real server counting how often its handler saw each id, and fault proxies holding acks back.
// Cases: a reload mid-send, two tabs at once, a tab closed mid-send.
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { LifelineServer } from '@lifeline/server';
import { WAIT_MS, closeAll, onCleanup, startProxy, startServer } from '@lifeline/test-kit';
import { bundleForBrowser, launchChromium, serveSite, type Chromium } from '@lifeline/test-kit/browser';
import type { Tab } from './browser/outbox-page.js';

const PAGE = fileURLToPath(new URL('./browser/outbox-page.ts', import.meta.url));

let browser: Chromium;
let script: string;
beforeAll(async () => {
  [browser, { code: script }] = await Promise.all([launchChromium(), bundleForBrowser(PAGE)]);
}, 90_000); // Chromium's launch is bounded at a minute
afterAll(() => browser?.close());
afterEach(closeAll);

const ids = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}-${i}`);

/** A server whose handler counts each id; ids in `held` wait until `release()`. */
async function countingServer() {
  const handled = new Map<string, number>();
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  const held = new Set<string>();
  const server: LifelineServer = await startServer({
    handler: async (_data, ctx) => {
      handled.set(ctx.id, (handled.get(ctx.id) ?? 0) + 1);
      if (held.has(ctx.id)) await released;
      return { handled: ctx.id };
    },
  });
  return { server, handled, held, release };
}

/** A new tab on `url` with the page loaded; its errors are collected. */
async function openTab(url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.context.newPage();
  onCleanup(() => page.close().catch(() => {}));
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await load(page, url);
  return { page, errors };
}

async function load(page: Page, url?: string): Promise<void> {
  await (url === undefined ? page.reload({ timeout: WAIT_MS }) : page.goto(url, { timeout: WAIT_MS }));
  await page.waitForFunction(() => 'tab' in window, undefined, { timeout: WAIT_MS });
}

/** Runs `fn` on the page's `window.tab`. */
function on<A, R>(page: Page, fn: (tab: Tab, arg: A) => R | Promise<R>, arg: A): Promise<R> {
  return page.evaluate(
    ([source, a]) => {
      const f = new Function(`return (${source})`)() as (tab: Tab, arg: A) => R;
      return f((window as unknown as { tab: Tab }).tab, a as A);
    },
    [fn.toString(), arg] as const,
  ) as Promise<R>;
}

/** A client in the page's tab on the outbox `name`, through `url`. */
function start(page: Page, url: string, name: string, connect = true): Promise<void> {
  return on(page, (tab, [url, name, connect]) => tab.start(url, name, connect), [url, name, connect] as [string, string, boolean]);
}

/** Waits until `predicate` holds on the page's tab (checked by Chromium, bounded by WAIT_MS). */
async function until<A>(page: Page, predicate: (tab: Tab, arg: A) => boolean | Promise<boolean>, arg: A, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!(await on(page, predicate, arg))) {
    if (Date.now() > deadline) throw new Error(`waited ${WAIT_MS} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const settledAll = (tab: Tab, want: string[]) => want.every((id) => tab.outcomes[id] !== undefined);
const storeHolds = async (tab: Tab, [name, n]: [string, number]) => (await tab.stored(name)) === n;
const runsAre = async (tab: Tab, [name, n]: [string, number]) => (await tab.runs(name)) === n;

/** Every id in `want` handled exactly once, and nothing else handled. */
function expectHandledOnce(handled: Map<string, number>, want: string[]): void {
  expect([...handled.keys()].sort()).toEqual([...want].sort());
  expect([...handled.entries()].filter(([, n]) => n !== 1)).toEqual([]);
}

describe('indexedDbOutbox in Chromium', () => {
  it('a reload mid-send: what was kept and not acked is sent by the reloaded page, each message handled once', async () => {
    const { server, handled } = await countingServer();
    const proxy = await startProxy(server.port);
    const site = await serveSite(script);
    const { page, errors } = await openTab(site.url);
    const name = 'reload';

    // 1. Ten messages acked, and forgotten by the store.
    await start(page, proxy.url(), name);
    await on(page, (tab, ids) => tab.send(ids), ids('acked', 10));
    await until(page, settledAll, ids('acked', 10), 'the first ten acks');
    await until(page, storeHolds, [name, 0], 'the store to forget the acked ten');

    // 2. The link goes silent: twenty more are kept and transmitted into the void, never acked.
    proxy.silence(true);
    await on(page, (tab, ids) => tab.send(ids), ids('pending', 20));
    await until(page, storeHolds, [name, 20], 'the twenty pending messages kept');
    expect(await on(page, (tab) => Object.keys(tab.outcomes).length, null)).toBe(10);

    // 3. Reload before their acks; the link comes back; the new page's client sends them once.
    await load(page);
    proxy.silence(false);
    await until(page, runsAre, [name, 0], 'the unloaded page to release its run lock');
    await start(page, proxy.url(), name);
    await until(page, (tab) => tab.settled.length === 20, null, 'the restored twenty settled');
    const after = await on(page, (tab) => ({ restored: tab.restored, settled: tab.settled }), null);
    expect(after.restored).toEqual([ids('pending', 20)]);
    expect(after.settled).toEqual(ids('pending', 20).map((id) => ({ id, result: { handled: id } })));
    await until(page, storeHolds, [name, 0], 'the store emptied');
    expectHandledOnce(handled, [...ids('acked', 10), ...ids('pending', 20)]);
    expect(errors).toEqual([]);
  });

  it('two tabs on one outbox: each sends its own messages, none is sent by both', async () => {
    const { server, handled, held, release } = await countingServer();
    const proxy = await startProxy(server.port);
    const site = await serveSite(script);
    const [a, b] = await Promise.all([openTab(site.url), openTab(site.url)]);
    const name = 'two-tabs';

    // Tab A keeps 15 messages before it connects; tab B connects meanwhile (its load must leave
    // A's entries alone: A is alive) and sends 15 whose handling is held, so they stay kept.
    await start(a.page, proxy.url(), name, false);
    await on(a.page, (tab, ids) => tab.send(ids), ids('a-early', 15));
    await until(a.page, storeHolds, [name, 15], "A's early messages kept");
    await start(b.page, proxy.url(), name);
    for (const id of ids('b-held', 15)) held.add(id);
    await on(b.page, (tab, ids) => tab.send(ids), ids('b-held', 15));
    await until(a.page, storeHolds, [name, 30], "B's held messages kept too");

    // Both send more at once; A connects, loading while B's entries are pending.
    await Promise.all([
      on(a.page, async (tab, ids) => {
        tab.send(ids);
        await tab.connect();
      }, ids('a-late', 15)),
      on(b.page, (tab, ids) => tab.send(ids), ids('b-late', 15)),
    ]);
    release();
    const aIds = [...ids('a-early', 15), ...ids('a-late', 15)];
    const bIds = [...ids('b-held', 15), ...ids('b-late', 15)];
    await until(a.page, settledAll, aIds, "A's sends answered");
    await until(b.page, settledAll, bIds, "B's sends answered");
    for (const [tab, own] of [
      [a, aIds],
      [b, bIds],
    ] as const) {
      const state = await on(tab.page, (t) => ({ restored: t.restored, outcomes: t.outcomes }), null);
      expect(state.restored).toEqual([]); // neither took the other's entries
      expect(Object.keys(state.outcomes).sort()).toEqual([...own].sort());
      for (const id of own) expect(state.outcomes[id]).toEqual({ result: { handled: id } });
    }
    await until(a.page, storeHolds, [name, 0], 'the store emptied');
    expectHandledOnce(handled, [...aIds, ...bIds]);
    expect([...a.errors, ...b.errors]).toEqual([]);
  });

  it('a tab closed mid-send: a new tab adopts its entries and sends them once, and leaves a live tab\'s alone', async () => {
    const { server, handled, held, release } = await countingServer();
    // Each tab its own link, so one can go silent while the other works.
    const [proxyA, proxyB] = await Promise.all([startProxy(server.port), startProxy(server.port)]);
    const site = await serveSite(script);
    const [a, b] = await Promise.all([openTab(site.url), openTab(site.url)]);
    const name = 'closed-tab';

    // A's link is silent: its ten are kept and transmitted into the void. B's five are held by the handler.
    await start(a.page, proxyA.url(), name);
    await start(b.page, proxyB.url(), name);
    proxyA.silence(true);
    await on(a.page, (tab, ids) => tab.send(ids), ids('a', 10));
    for (const id of ids('b', 5)) held.add(id);
    await on(b.page, (tab, ids) => tab.send(ids), ids('b', 5));
    await until(b.page, storeHolds, [name, 15], 'both tabs\' messages kept');
    expect(await on(b.page, runsAre, [name, 2])).toBe(true);

    // A's tab closes before any ack; a new tab C starts while B lives.
    await a.page.close();
    await until(b.page, runsAre, [name, 1], "the closed tab's run lock released");
    const c = await openTab(site.url);
    await start(c.page, proxyB.url(), name);
    await until(c.page, (tab) => tab.settled.length === 10, null, "A's ten sent by C");
    const restored = await on(c.page, (tab) => tab.restored, null);
    expect(restored).toEqual([ids('a', 10)]); // A's, never B's
    release();
    await until(b.page, settledAll, ids('b', 5), "B's five answered");
    await until(c.page, storeHolds, [name, 0], 'the store emptied');
    expectHandledOnce(handled, [...ids('a', 10), ...ids('b', 5)]);
    expect([...b.errors, ...c.errors]).toEqual([]);
  });
});
