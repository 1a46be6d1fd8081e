// Browser tests' helpers (`@lifeline/test-kit/browser`, apart from the index so only browser tests
// load playwright-core and esbuild): the system's Chromium (Debian's package; npm test's pretest
// hook, .ci/services.sh, installs it) through playwright-core, never a downloaded browser (without
// /usr/bin/chromium the tests fail, saying so); a bundle of test code built from source with
// esbuild; and a static site on 127.0.0.1 port 0 to serve it.
import { constants } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { lifelineSources } from '../../../vitest.shared.js';
import { onCleanup } from './cleanup.js';

export const CHROMIUM_PATH = '/usr/bin/chromium';

const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
// A loaded CI machine (every suite at once on two cores, Chromium just installed) took over 15 s
// to start Chromium; a launch is bounded, not timed.
const LAUNCH_TIMEOUT_MS = 60_000;
const CLOSE_TIMEOUT_MS = 10_000;

export interface Chromium {
  readonly context: BrowserContext;
  /** Closes the browser (bounded) and removes its profile directory. */
  close(): Promise<void>;
}

/** Headless Chromium with a fresh profile in a temp directory, removed on `close()`. */
export async function launchChromium(): Promise<Chromium> {
  try {
    await access(CHROMIUM_PATH, constants.X_OK);
  } catch {
    throw new Error(
      `${CHROMIUM_PATH} is missing or not executable: the browser tests use Debian's chromium package ` +
        '(npm test installs it through .ci/services.sh; or apt-get install chromium). No browser is downloaded.',
    );
  }
  const userDataDir = await mkdtemp(join(tmpdir(), 'lifeline-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: ARGS,
      timeout: LAUNCH_TIMEOUT_MS,
      viewport: { width: 1280, height: 800 },
    });
  } catch (error) {
    await rm(userDataDir, { recursive: true, force: true });
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    context,
    close: () =>
      (closing ??= (async () => {
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_TIMEOUT_MS)));
        await Promise.race([context.close().catch(() => {}), deadline]);
        clearTimeout(timer);
        await rm(userDataDir, { recursive: true, force: true, maxRetries: 3 });
      })()),
  };
}

/** Chromium with one page whose uncaught errors are collected; `closeAll` closes the browser. */
export async function openPage(): Promise<{ page: Page; pageErrors: string[] }> {
  const browser = await launchChromium();
  onCleanup(() => browser.close());
  const page = await browser.context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  return { page, pageErrors };
}

/** Chromium with one page per call (tabs of one origin share its storage and Web Locks); `closeAll` closes the browser. */
export async function openBrowser(): Promise<{ newPage(): Promise<{ page: Page; pageErrors: string[] }> }> {
  const browser = await launchChromium();
  onCleanup(() => browser.close());
  return {
    async newPage() {
      const page = await browser.context.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (error) => pageErrors.push(error.message));
      return { page, pageErrors };
    },
  };
}

/**
 * `entry` bundled for the browser as one ES module, `@lifeline/*` from source. The transport
 * reaches `ws` only through a dynamic `import('ws')` when there is no global WebSocket, so `ws`
 * stays external: a browser never evaluates that import.
 */
export async function bundleForBrowser(entry: string, options: { external?: string[]; minify?: boolean } = {}): Promise<{ code: string; inputs: string[] }> {
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    metafile: true,
    minify: options.minify ?? false,
    external: options.external ?? ['ws'],
    jsx: 'automatic',
    // React's development build: StrictMode runs effects twice only there.
    define: { 'process.env.NODE_ENV': '"development"' },
    plugins: [lifelineSources],
    logLevel: 'silent',
  });
  return { code: result.outputFiles[0]!.text, inputs: Object.keys(result.metafile.inputs) };
}

/**
 * A site on 127.0.0.1 (port 0): `/` is an HTML page that imports `/app.js` (`script`) as a module,
 * closed by `closeAll`. Pages of one site are one origin.
 */
export async function serveSite(script: string, title = 'lifeline test'): Promise<{ url: string }> {
  const page = `<!doctype html><meta charset="utf-8"><title>${title}</title><div id="root"></div><script type="module" src="/app.js"></script>`;
  const server = http.createServer((req, res) => {
    if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
    else if (req.url === '/app.js') res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(script);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}
