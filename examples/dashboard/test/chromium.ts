// Launches the system's Chromium (Debian's package; npm test's pretest hook, .ci/services.sh, installs it) through
// playwright-core. Never downloads a browser: without /usr/bin/chromium the tests fail, saying so.
import { constants } from 'node:fs';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { onCleanup } from '@lifeline/test-kit';

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
const LAUNCH_TIMEOUT_MS = 15_000;
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
