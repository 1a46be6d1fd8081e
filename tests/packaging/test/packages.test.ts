// The packages as a user gets them (issue 13): `npm pack` of each published package, installed
// together in an empty project outside the monorepo, then used from an ES module and from
// CommonJS (`require`, through Node's require(esm), 20.19+), a real server and client on
// 127.0.0.1 talking through them; and the browser bundle of @lifeline/sdk, minified and gzipped,
// against its budget. Needs the packages built (turbo runs `^build` before this task).
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../../..');
const PUBLISHED = ['protocol', 'transport', 'session', 'sdk', 'server', 'metrics', 'redis'];
/**
 * min+gzip bytes of `import { createClient } from '@lifeline/sdk'` for browsers, from the npm
 * tarballs. Measured 28,478 B after issues 9–11 (the codec seam, the shared queue, the channel
 * client; 17.6 kB before them; socket.io-client 4.8 is 12.8 kB measured the same way), so this
 * holds the line with about 5 % of room while the size is brought down (issue 13). A larger bundle
 * fails this test: raise it only on purpose.
 */
const SDK_BUDGET_BYTES = 30_000;

let dir = '';
let app = '';

/** What both scripts do: one server, one client, one send; what came back and which classes were seen. */
const roundTrip = (load: string) => `${load}
(async () => {
  const server = createServer({ port: 0, host: '127.0.0.1', handler: (d) => ({ echo: d }) });
  await server.listen();
  const client = createClient({ url: 'ws://127.0.0.1:' + server.port });
  await client.connect({ timeoutMs: 5000 });
  const result = await client.send({ hi: 1 }, { timeoutMs: 5000 });
  await client.close({ timeoutMs: 2000 });
  const late = await client.send('x').catch((e) => e);
  await server.close({ timeoutMs: 2000 });
  console.log(JSON.stringify({ result, sameErrors: protocol.AckTimeoutError === sdk.AckTimeoutError, redis: typeof redis.redisEngine, metrics: typeof metrics.metrics, closedIsTyped: late instanceof protocol.ClosedError }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lifeline-pack-'));
  const tarballs = join(dir, 'tarballs');
  app = join(dir, 'app');
  await run('mkdir', ['-p', tarballs, app]);
  for (const name of PUBLISHED) {
    await run('npm', ['pack', '--silent', '--pack-destination', tarballs], { cwd: join(ROOT, 'packages', name) });
  }
  const files = (await readdir(tarballs)).map((f) => join(tarballs, f));
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'outside-app', private: true }));
  // Registry packages (ws, nanoid, ioredis…) come from npm's cache when it has them.
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', ...files], { cwd: app, timeout: 200_000 });
});

afterAll(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

describe('the published packages, installed outside the monorepo', () => {
  it('work from an ES module', async () => {
    const script = roundTrip(`
import { createServer } from '@lifeline/server';
import { createClient } from '@lifeline/sdk';
import * as sdk from '@lifeline/sdk';
import * as protocol from '@lifeline/protocol';
import * as redis from '@lifeline/redis';
import * as metrics from '@lifeline/metrics';`);
    await writeFile(join(app, 'esm.mjs'), script);
    const { stdout } = await run(process.execPath, ['esm.mjs'], { cwd: app, timeout: 30_000 });
    expect(JSON.parse(stdout)).toEqual({ result: { echo: { hi: 1 } }, sameErrors: true, redis: 'function', metrics: 'function', closedIsTyped: true });
  });

  it('work from CommonJS (require), with one copy of every error class', async () => {
    const script = roundTrip(`
const { createServer } = require('@lifeline/server');
const { createClient } = require('@lifeline/sdk');
const sdk = require('@lifeline/sdk');
const protocol = require('@lifeline/protocol');
const redis = require('@lifeline/redis');
const metrics = require('@lifeline/metrics');`);
    await writeFile(join(app, 'cjs.cjs'), script);
    const { stdout } = await run(process.execPath, ['cjs.cjs'], { cwd: app, timeout: 30_000 });
    expect(JSON.parse(stdout)).toEqual({ result: { echo: { hi: 1 } }, sameErrors: true, redis: 'function', metrics: 'function', closedIsTyped: true });
  });

  it(`bundles @lifeline/sdk for browsers within ${SDK_BUDGET_BYTES} bytes min+gzip, without ws`, async () => {
    const result = await esbuild.build({
      stdin: { contents: "export { createClient } from '@lifeline/sdk';", resolveDir: app, loader: 'js' },
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const code = result.outputFiles[0]?.contents ?? new Uint8Array();
    const gzipped = gzipSync(code, { level: 9 }).length;
    const inputs = Object.keys(result.metafile.inputs);
    console.log(`@lifeline/sdk for browsers: ${code.length} B minified, ${gzipped} B min+gzip (budget ${SDK_BUDGET_BYTES} B)`);
    // Only ws's browser stub may appear, never its Node implementation.
    expect(inputs.filter((p) => p.includes('node_modules/ws/') && !p.endsWith('browser.js'))).toEqual([]);
    expect(gzipped).toBeLessThanOrEqual(SDK_BUDGET_BYTES);
  });
});
