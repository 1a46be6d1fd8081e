// The SDK in a real browser: @lifeline/sdk bundled from source for the browser with esbuild, run in
// Chromium with its native WebSocket against a real server through the fault proxy: acks with
// results, a server push, and a cut connection that the browser client resumes.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as esbuild from 'esbuild';
import { afterEach, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { Session } from '@lifeline/server';
import { WAIT_MS, closeAll, onCleanup, startProxy, startServer } from '@lifeline/test-kit';
import { alias, lifelineSources } from '../../../vitest.shared.js';
import { openPage } from './chromium.js';

/**
 * The SDK as a browser ESM bundle. The transport reaches `ws` only through a dynamic `import('ws')`
 * when there is no global WebSocket; esbuild still resolves that specifier (to ws's browser stub,
 * `ws/browser.js`, which only throws), so `ws` is marked external: the bundle keeps a bare
 * `import("ws")` that a browser never evaluates.
 */
async function bundleSdk(external: string[]): Promise<{ code: string; inputs: string[] }> {
  const result = await esbuild.build({
    entryPoints: [alias['@lifeline/sdk'] as string],
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    metafile: true,
    external,
    plugins: [lifelineSources],
    logLevel: 'silent',
  });
  return { code: result.outputFiles[0]!.text, inputs: Object.keys(result.metafile.inputs) };
}

// Built on first use and shared: every test bundles the same input.
let sdk: ReturnType<typeof bundleSdk> | undefined;
const sdkBundle = () => (sdk ??= bundleSdk(['ws']));

/** Serves the bundle and a page that exposes it as `window.lifeline`, on 127.0.0.1. */
async function servePage(bundle: string): Promise<{ url: string; close(): Promise<void> }> {
  const page = `<!doctype html><meta charset="utf-8"><title>lifeline sdk</title>
<script type="module">import * as lifeline from '/sdk.js'; window.lifeline = lifeline;</script>`;
  const server = http.createServer((req, res) => {
    if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
    else if (req.url === '/sdk.js') res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(bundle);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Opens `url` (or reloads the page), then waits until its module script has set `window.lifeline`. */
async function load(page: Page, url?: string): Promise<void> {
  await (url === undefined ? page.reload({ timeout: WAIT_MS }) : page.goto(url, { timeout: WAIT_MS }));
  await page.waitForFunction(() => 'lifeline' in window, undefined, { timeout: WAIT_MS });
}

/** Starts `count` sends in the page, from `from`; resolves when they have been started. */
function startSends(page: Page, from: number, count: number, slow = false): Promise<void> {
  return page.evaluate(
    ([from, count, slow]) => {
      const w = window as unknown as BrowserState;
      w.batch = Promise.all(
        Array.from({ length: count }, (_, i) => w.client.send({ n: from + i, slow }, { id: `m-${from + i}`, timeoutMs: 10_000 })),
      );
    },
    [from, count, slow] as const,
  );
}

/** What the page keeps on `window` (see the setup in the test). */
interface BrowserState {
  lifeline: typeof import('@lifeline/sdk');
  client: import('@lifeline/sdk').Client;
  batch: Promise<unknown[]>;
  states: string[];
  pushes: unknown[];
  resumed: number[];
  sockets: number;
}

// Each test launches Chromium (up to a minute on a loaded machine) before its own waits.
describe('@lifeline/sdk in Chromium', { timeout: 150_000 }, () => {
  afterEach(closeAll);

  /** The fault proxy in front of the server, the page's site, Chromium and a page, closed after the test. */
  async function stage(serverPort: number, code: string) {
    const proxy = await startProxy(serverPort);
    const site = await servePage(code);
    onCleanup(() => site.close());
    const { page, pageErrors } = await openPage();
    return { proxy, site, page, pageErrors };
  }

  it('bundles for the browser without ws', async () => {
    const withWsExternal = await sdkBundle();
    expect(withWsExternal.inputs.some((input) => input.includes('node_modules/ws/'))).toBe(false);
    expect(withWsExternal.code).toContain('import("ws")'); // reached only without a global WebSocket
    expect(withWsExternal.code).not.toMatch(/from\s*["']node:|require\(["']node:/);
    // Without `external`, esbuild follows ws's `browser` field: only its throwing stub, never its Node code.
    const plain = await bundleSdk([]);
    expect(plain.inputs.filter((input) => input.includes('node_modules/ws/'))).toEqual([expect.stringMatching(/node_modules\/ws\/browser\.js$/)]);
  });

  it('sends, receives and resumes after a cut with the native WebSocket', async () => {
    const { code } = await sdkBundle();

    // The server: records every handler call by message id; messages marked slow take 10 ms each,
    // so a batch is still in flight when the proxy cuts.
    const handled = new Map<string, number>();
    let onHandled: (() => void) | undefined;
    const sessions: Session[] = [];
    const server = await startServer({
      handler: async (data, ctx) => {
        handled.set(ctx.id, (handled.get(ctx.id) ?? 0) + 1);
        onHandled?.();
        const { n, slow } = data as { n: number; slow: boolean };
        if (slow) await new Promise((resolve) => setTimeout(resolve, 10));
        return { echo: n, seq: ctx.seq };
      },
    });
    server.on('session', (session) => {
      sessions.push(session);
      session.send({ hello: 'browser' }, { timeoutMs: WAIT_MS }).catch(() => {});
    });
    const { proxy, site, page, pageErrors } = await stage(server.port, code);
    await load(page, site.url);

    // 1. Connect and send 50 messages; every ack carries the handler's result.
    const first = await page.evaluate(async (url) => {
      const w = window as unknown as BrowserState;
      // Count sockets through a subclass of the native WebSocket: proves the SDK took the global one.
      const Native = globalThis.WebSocket;
      w.sockets = 0;
      globalThis.WebSocket = class extends Native {
        constructor(...args: ConstructorParameters<typeof WebSocket>) {
          super(...args);
          w.sockets++;
        }
      };
      w.states = [];
      w.pushes = [];
      w.resumed = [];
      w.client = w.lifeline.createClient({ url, reconnect: { minDelayMs: 50, maxDelayMs: 500 } });
      w.client.on('state', (state, { from, reason }) => w.states.push(`${from}→${state} (${reason})`));
      w.client.on('message', (data) => w.pushes.push(data));
      w.client.on('resumed', ({ replayed }) => w.resumed.push(replayed));
      await w.client.connect({ timeoutMs: 5_000 });
      return Promise.all(Array.from({ length: 50 }, (_, n) => w.client.send({ n, slow: false }, { id: `m-${n}`, timeoutMs: 5_000 })));
    }, proxy.url());
    expect(first).toHaveLength(50);
    first.forEach((result, n) => expect(result).toEqual({ echo: n, seq: expect.any(Number) }));
    const seqs = (first as Array<{ seq: number }>).map((r) => r.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(50);

    // 2. The server's push on 'session' reaches the page's listener.
    await page.waitForFunction(() => (window as unknown as BrowserState).pushes.length >= 1, undefined, { timeout: WAIT_MS });
    expect(await page.evaluate(() => (window as unknown as BrowserState).pushes)).toEqual([{ hello: 'browser' }]);

    // 3. Cut the connection while 30 slow messages are being handled, and push one more meanwhile.
    const fiveSlowHandled = new Promise<void>((resolve) => {
      onHandled = () => handled.size >= 55 && resolve();
    });
    await startSends(page, 50, 30, true);
    await fiveSlowHandled;
    expect(proxy.cutAll()).toBeGreaterThan(0);
    const pushAfterCut = sessions[0]!.send({ after: 'cut' }, { timeoutMs: WAIT_MS });
    const second = await page.evaluate(() => (window as unknown as BrowserState).batch);
    second.forEach((result, i) => expect(result).toEqual({ echo: 50 + i, seq: expect.any(Number) }));
    await pushAfterCut; // the client acknowledged it: delivered after the resume

    // 4. More sends on the resumed session.
    await startSends(page, 80, 20);
    const third = await page.evaluate(() => (window as unknown as BrowserState).batch);
    third.forEach((result, i) => expect(result).toEqual({ echo: 80 + i, seq: expect.any(Number) }));

    const after = await page.evaluate(() => {
      const w = window as unknown as BrowserState;
      return { states: w.states, pushes: w.pushes, resumed: w.resumed, sockets: w.sockets, state: w.client.state };
    });
    expect(after.pushes).toEqual([{ hello: 'browser' }, { after: 'cut' }]);
    expect(after.states.some((s) => s.startsWith('open→reconnecting'))).toBe(true);
    expect(after.states.at(-1)).toMatch(/^reconnecting→open/);
    expect(after.resumed).toHaveLength(1);
    expect(after.resumed[0]).toBeGreaterThan(0); // unacknowledged slow messages were retransmitted
    expect(after.sockets).toBeGreaterThanOrEqual(2); // one native WebSocket per connection
    expect(sessions).toHaveLength(1); // resumed, not a new session
    // Exactly once: 100 distinct ids, each handled once, across the cut.
    expect(handled.size).toBe(100);
    expect([...handled.values()].every((calls) => calls === 1)).toBe(true);

    await page.evaluate(() => (window as unknown as BrowserState).client.close({ timeoutMs: 2_000 }));
    expect(pageErrors).toEqual([]);
  });

  it('keeps queued sends in localStorage across a page reload and sends them from the reloaded page', async () => {
    const { code } = await sdkBundle();
    const handled: string[] = [];
    const server = await startServer({
      handler: (data, ctx) => {
        handled.push(ctx.id);
        return { echo: (data as { n: number }).n };
      },
    });
    const { proxy, site, page, pageErrors } = await stage(server.port, code);

    // 1. The server is unreachable: three sends queue (and go to localStorage); then the page reloads.
    proxy.refuse();
    await load(page, site.url);
    const stored = await page.evaluate(async (url) => {
      const { lifeline } = window as unknown as BrowserState;
      const client = lifeline.createClient({ url, outbox: lifeline.webStorageOutbox(), reconnect: { minDelayMs: 50, maxDelayMs: 200 } });
      client.on('error', () => {});
      client.connect({ timeoutMs: 30_000 }).catch(() => {});
      for (let n = 1; n <= 3; n++) client.send({ n }, { id: `reload-${n}`, timeoutMs: 30_000 }).catch(() => {});
      return Object.keys(localStorage).filter((k) => k.startsWith('lifeline-outbox:')).length;
    }, proxy.url());
    expect(stored).toBe(3);
    await load(page);
    expect(handled).toEqual([]);

    // 2. The reloaded page's client sends them on connect, under their ids, and empties the store.
    proxy.refuse(false);
    const outcomes = await page.evaluate(async (url) => {
      const { lifeline } = window as unknown as BrowserState;
      const client = lifeline.createClient({ url, outbox: lifeline.webStorageOutbox() });
      const settled: unknown[] = [];
      const all = new Promise<void>((resolve) =>
        client.on('restored-settled', (outcome) => {
          settled.push(outcome);
          if (settled.length === 3) resolve();
        }),
      );
      await client.connect({ timeoutMs: 5_000 });
      await all;
      await client.close({ timeoutMs: 2_000 });
      return { settled, left: Object.keys(localStorage).filter((k) => k.startsWith('lifeline-outbox:')).length };
    }, proxy.url());
    expect(outcomes.settled).toEqual([1, 2, 3].map((n) => ({ id: `reload-${n}`, result: { echo: n } })));
    expect(outcomes.left).toBe(0);
    expect(handled).toEqual(['reload-1', 'reload-2', 'reload-3']);
    expect(pageErrors).toEqual([]);
  });
});
