// Two users in one room, in Chromium, through a fault proxy that cuts the link again and again and
// once stays down while both type: every line appears once, in the same offset order, for both.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { closeAll, onCleanup, startProxy } from '@lifeline/test-kit';
import { startChat } from '../src/server/index.js';
import { launchBrowser, userPage } from './browser.js';
import { buildPage } from './build-page.js';

/** Written only with LIFELINE_SCREENSHOT=1 (as the dashboard's), so that test runs leave the tree clean. */
const SCREENSHOT_PATH = fileURLToPath(new URL('../../../docs/img/chat.png', import.meta.url));
const SCREENSHOT = process.env.LIFELINE_SCREENSHOT === '1';
const LINES = 30;
const WAIT_MS = 30_000;

let pageDir: string;
beforeAll(async () => {
  pageDir = await mkdtemp(join(tmpdir(), 'lifeline-chat-page-'));
  await buildPage(pageDir);
}, 60_000);
afterAll(() => rm(pageDir, { recursive: true, force: true }));
afterEach(closeAll);

interface Shown {
  offset: number;
  user: string;
  text: string;
}

/** The lines a page shows as published, in the order it shows them. */
const published = (page: Page): Promise<Shown[]> =>
  page.$$eval('[data-testid="line"][data-status="sent"]', (items) =>
    items.map((li) => ({ offset: Number(li.getAttribute('data-offset')), user: li.getAttribute('data-user') ?? '', text: li.querySelector('.text')?.textContent ?? '' })),
  );
const pendingTexts = (page: Page): Promise<string[]> =>
  page.$$eval('[data-testid="line"]:not([data-status="sent"])', (items) => items.map((li) => `${li.getAttribute('data-status')}:${li.querySelector('.text')?.textContent}`));

async function login(page: Page, url: string, user: string): Promise<void> {
  await page.goto(url, { timeout: WAIT_MS });
  await page.fill('[data-testid="login-name"]', user);
  await page.click('[data-testid="login"]');
  await page.waitForSelector('[data-testid="room"][data-ready="true"]', { timeout: WAIT_MS });
}

/** Types lines `from`..`to` of `user` (Enter sends each); `after(i)` runs once line i is sent. */
async function type(page: Page, user: string, from: number, to: number, after?: (i: number) => void): Promise<void> {
  const input = page.locator('[data-testid="composer"]');
  for (let i = from; i <= to; i++) {
    await input.fill(`${user} line ${i}`);
    await input.press('Enter');
    after?.(i);
  }
}

const connectionState = (page: Page) => page.getAttribute('[data-testid="connection"]', 'data-state');

describe('chat in Chromium through a fault proxy', () => {
  it(
    'two users type 30 lines each while the link is cut and down: each line once, in one order, for both',
    async () => {
      // A burst of queued lines (or of typing notices, one per line here) must not trip the rate
      // limits: this test is about delivery; test/server.test.ts covers the limits.
      const chat = await startChat({ pageDir, rate: { burst: 500, perSecond: 100 }, typingRate: { burst: 100, perSecond: 50 }, log: (line) => console.error(line) });
      onCleanup(() => chat.close());
      // The page and its WebSocket both come through the proxy, as through any network.
      const proxy = await startProxy(chat.port);
      const url = `http://127.0.0.1:${proxy.port}/#general`;

      const browser = await launchBrowser();
      const alice = await userPage(browser);
      const bob = await userPage(browser);
      await login(alice.page, url, 'alice');
      await login(bob.page, url, 'bob');
      for (const { page } of [alice, bob]) {
        await page.waitForSelector('[data-testid="presence"] li[data-user="alice"]', { timeout: WAIT_MS });
        await page.waitForSelector('[data-testid="presence"] li[data-user="bob"]', { timeout: WAIT_MS });
      }

      // 1. Both type while the proxy cuts every connection now and then.
      const cutAt = (at: readonly number[]) => (i: number) => {
        if (at.includes(i)) proxy.cutAll();
      };
      await Promise.all([type(alice.page, 'alice', 1, 20, cutAt([5, 15])), type(bob.page, 'bob', 1, 20, cutAt([10]))]);

      // 2. The link goes down and stays down: lines typed now show as pending.
      proxy.refuse();
      proxy.cutAll();
      for (const { page } of [alice, bob]) {
        await page.waitForSelector('[data-testid="connection"]:not([data-state="open"])', { timeout: WAIT_MS });
      }
      await Promise.all([type(alice.page, 'alice', 21, 25), type(bob.page, 'bob', 21, 25)]);
      expect(await connectionState(alice.page)).not.toBe('open');
      const offline = await pendingTexts(alice.page);
      for (let i = 21; i <= 25; i++) expect(offline).toContain(`pending:alice line ${i}`);
      expect(offline.some((t) => t.includes('bob'))).toBe(false); // bob's offline lines cannot have reached alice

      // 3. The link is back: the queued lines go out once; then more lines with one more cut.
      proxy.heal();
      await Promise.all([type(alice.page, 'alice', 26, LINES, cutAt([27])), type(bob.page, 'bob', 26, LINES)]);

      const done = (page: Page) =>
        page.waitForFunction(
          (total) =>
            document.querySelectorAll('[data-testid="line"][data-status="sent"]').length >= total &&
            document.querySelectorAll('[data-testid="line"]:not([data-status="sent"])').length === 0,
          2 * LINES,
          { timeout: WAIT_MS, polling: 100 },
        );
      await Promise.all([done(alice.page), done(bob.page)]);

      const seenByAlice = await published(alice.page);
      const seenByBob = await published(bob.page);
      expect(seenByAlice).toHaveLength(2 * LINES);
      expect(seenByBob).toEqual(seenByAlice); // one order: the channel's offsets
      expect(seenByAlice.map((l) => l.offset)).toEqual(Array.from({ length: 2 * LINES }, (_, i) => i + 1));
      for (const user of ['alice', 'bob']) {
        const texts = seenByAlice.filter((l) => l.user === user).map((l) => l.text);
        expect(texts).toEqual(Array.from({ length: LINES }, (_, i) => `${user} line ${i + 1}`)); // each once, in the order typed
      }
      expect(proxy.cuts).toBeGreaterThanOrEqual(5);
      // Cuts that land while a page is still reconnecting from the last one count once there.
      expect(Number(await alice.page.getAttribute('[data-testid="connection"]', 'data-reconnects'))).toBeGreaterThanOrEqual(2);
      for (const { page } of [alice, bob]) {
        const present = await page.$$eval('[data-testid="presence"] li', (items) => items.map((li) => li.getAttribute('data-user')));
        expect(present).toEqual(['alice', 'bob']);
        expect(Number(await page.evaluate(() => document.querySelectorAll('[data-testid="connection"][data-state="open"]').length))).toBe(1);
      }

      // 4. History on join: a third user sees the room's last 50 lines (historyOnJoin), in the same order.
      const carol = await userPage(browser);
      await login(carol.page, url, 'carol');
      await carol.page.waitForFunction(() => document.querySelectorAll('[data-testid="line"][data-status="sent"]').length >= 50, undefined, { timeout: WAIT_MS });
      expect(await published(carol.page)).toEqual(seenByAlice.slice(-50));
      await alice.page.waitForSelector('[data-testid="presence"] li[data-user="carol"]', { timeout: WAIT_MS });

      // 5. Typing: bob starts a line; alice sees it. Then the picture for the README.
      await bob.page.fill('[data-testid="composer"]', 'one more thing');
      await alice.page.waitForFunction(() => document.querySelector('[data-testid="typing"]')?.textContent?.includes('bob is typing'), undefined, { timeout: WAIT_MS });
      const png = await alice.page.screenshot();
      expect(png.length).toBeGreaterThan(1_000);
      if (SCREENSHOT) {
        await mkdir(dirname(SCREENSHOT_PATH), { recursive: true });
        await writeFile(SCREENSHOT_PATH, png);
      }
      for (const user of [alice, bob, carol]) expect(user.pageErrors).toEqual([]);
    },
    120_000,
  );
});
