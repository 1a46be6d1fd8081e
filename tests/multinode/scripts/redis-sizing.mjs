#!/usr/bin/env node
// Redis memory per Lifeline session and per channel publication, for docs/scaling.md:
//   node tests/multinode/scripts/redis-sizing.mjs [redis://127.0.0.1:6379]
// Bundles redis-sizing.ts from source with esbuild (no build step) and runs it. It writes only
// under a random key prefix of its own and deletes it after. Not a benchmark: no timing.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const out = path.join(os.tmpdir(), `lifeline-redis-sizing-${process.pid}.mjs`);
await esbuild.build({
  entryPoints: [path.join(here, 'redis-sizing.ts')],
  outfile: out,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['bufferutil', 'utf-8-validate'],
  banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  // Every @lifeline import is its package's source, as in the tests.
  plugins: [
    {
      name: 'lifeline-sources',
      setup(build) {
        build.onResolve({ filter: /^@lifeline\/[a-z-]+(\/internal)?$/ }, (args) => {
          const [, name, sub] = /^@lifeline\/([a-z-]+)(\/internal)?$/.exec(args.path);
          return { path: path.join(root, 'packages', name, 'src', sub ? 'internal.ts' : 'index.ts') };
        });
      },
    },
  ],
  logLevel: 'warning',
});
const run = spawnSync(process.execPath, [out, ...process.argv.slice(2)], { stdio: 'inherit' });
fs.rmSync(out, { force: true });
process.exit(run.status ?? 1);
