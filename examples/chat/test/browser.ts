// One headless Chromium (Debian's /usr/bin/chromium, through playwright-core; never a downloaded
// browser) with a browser context per user: separate storage and cookies, as two people on two
// machines. examples/dashboard/test/chromium.ts launches one persistent context; a chat needs several.
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { chromium, type Browser, type Page } from 'playwright-core';
import { onCleanup } from '@lifeline/test-kit';

const CHROMIUM_PATH = '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const LAUNCH_TIMEOUT_MS = 15_000;
const CLOSE_TIMEOUT_MS = 10_000;

/** Chromium, closed (bounded) by `closeAll`. */
export async function launchBrowser(): Promise<Browser> {
  try {
    await access(CHROMIUM_PATH, constants.X_OK);
  } catch {
    throw new Error(`${CHROMIUM_PATH} is missing: the browser tests use Debian's chromium (npm test installs it through .ci/services.sh; or apt-get install chromium)`);
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: ARGS, timeout: LAUNCH_TIMEOUT_MS });
  onCleanup(async () => {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_TIMEOUT_MS)));
    await Promise.race([browser.close().catch(() => {}), deadline]);
    clearTimeout(timer);
  });
  return browser;
}

/** A page in a context of its own (one user), with its uncaught errors collected. */
export async function userPage(browser: Browser, viewport = { width: 1100, height: 640 }): Promise<{ page: Page; pageErrors: string[] }> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  return { page, pageErrors };
}
