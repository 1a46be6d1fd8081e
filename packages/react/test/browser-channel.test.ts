// @vitest-environment node
// @lifeline/react in real Chromium (issue 13): a React page (test/browser/channel-page.tsx, bundled
// by esbuild) in StrictMode with a provider that owns its client, against a real server through
// the fault proxy. useSend resolves with the handler's result; useChannel, on the real
// client.subscribe, renders what server.publish publishes, across a cut link; StrictMode's double
// effects leave one subscription on the server.
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { WAIT_MS, closeAll, poll, startProxy, startServer } from '@lifeline/test-kit';
import { bundleForBrowser, openPage, serveSite } from '@lifeline/test-kit/browser';
import type { ReactPage } from './browser/channel-page.js';

const PAGE = fileURLToPath(new URL('./browser/channel-page.tsx', import.meta.url));
const CHANNEL = 'room:42';

afterEach(closeAll);

const text = (page: Page, id: string) => page.getByTestId(id).textContent({ timeout: WAIT_MS });
const items = (page: Page) => page.getByTestId('publications').locator('li').allTextContents();

/** Waits until the DOM shows `want` in the element `id`. */
async function shows(page: Page, id: string, want: string): Promise<void> {
  await page.waitForFunction(([id, want]) => document.querySelector(`[data-testid="${id}"]`)?.textContent === want, [id, want] as const, {
    timeout: WAIT_MS,
  });
}

/** Waits until the page lists `count` publications. */
async function lists(page: Page, count: number): Promise<void> {
  await page.waitForFunction((count) => document.querySelectorAll('[data-testid="publications"] li').length >= count, count, { timeout: WAIT_MS });
}

// Chromium's launch alone may take up to a minute on a loaded machine.
describe('@lifeline/react in Chromium', { timeout: 150_000 }, () => {
  it('StrictMode: useSend gets the result, useChannel shows every publication once across a cut, one subscription on the server', async () => {
    const authorized: string[] = [];
    let sessions = 0;
    const server = await startServer({
      handler: (data) => ({ echo: data }),
      channels: {
        authorize: (session, channel) => {
          authorized.push(`${session.id}:${channel}`);
          return true;
        },
      },
    });
    server.on('session', () => sessions++);
    const proxy = await startProxy(server.port);
    const [{ code }, { page, pageErrors }] = await Promise.all([bundleForBrowser(PAGE), openPage()]);
    const consoleErrors: string[] = [];
    page.on('console', (message) => {
      // The page has no favicon: Chromium's request for one is the only 404.
      if (message.type() === 'error' && !message.text().includes('404')) consoleErrors.push(message.text());
    });
    const site = await serveSite(code);
    await page.goto(site.url, { timeout: WAIT_MS });
    await page.waitForFunction(() => 'app' in window, undefined, { timeout: WAIT_MS });

    // 1. Mounted in StrictMode: open, subscribed and ready; one subscription reached the server.
    await page.evaluate(([url, channel]) => (window as unknown as { app: ReactPage }).app.mount(url, channel), [proxy.url(), CHANNEL] as const);
    await shows(page, 'state', 'open');
    await shows(page, 'ready', 'ready');
    expect(authorized).toHaveLength(1);
    await poll(() => sessions === 1, 'one session');
    expect(await server.presence(CHANNEL)).toHaveLength(1);

    // 2. useSend resolves with the handler's result, and renders it.
    await page.waitForFunction(() => (window as unknown as { app: ReactPage }).app.send !== undefined, undefined, { timeout: WAIT_MS });
    const outcome = await page.evaluate(() => (window as unknown as { app: ReactPage }).app.send!({ op: 'buy', qty: 1 }));
    expect(outcome).toEqual({ ok: true, result: { echo: { op: 'buy', qty: 1 } }, maybeDelivered: true });
    await shows(page, 'send', JSON.stringify({ echo: { op: 'buy', qty: 1 } }));

    // 3. Publications from server.publish appear in order.
    for (let n = 1; n <= 5; n++) await server.publish(CHANNEL, { n });
    await lists(page, 5);

    // 4. The link is cut; five more are published while the client is away; it comes back,
    //    resubscribes from its position, and lists all ten once, in order, with no gap.
    expect(proxy.cutAll()).toBeGreaterThan(0);
    for (let n = 6; n <= 10; n++) await server.publish(CHANNEL, { n });
    await shows(page, 'reconnects', '1');
    await lists(page, 10);
    expect(await items(page)).toEqual(Array.from({ length: 10 }, (_, i) => JSON.stringify({ n: i + 1 })));
    expect(await text(page, 'gap')).toBe('');
    expect(await text(page, 'error')).toBe('');
    await shows(page, 'state', 'open');
    // One subscription per connection: the first, and the one after the cut (subscriptions
    // belong to the connection), from the one session StrictMode left.
    expect(authorized).toHaveLength(2);
    expect(new Set(authorized).size).toBe(1);
    expect(sessions).toBe(1);
    expect(await server.presence(CHANNEL)).toHaveLength(1);
    expect(pageErrors).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });
});
