#!/usr/bin/env node
// npm run chaos -- [--seeds N] [--from S] [--seed S] [--run-ms MS]
//
// Runs test/chaos.test.ts under vitest with the seeds in the environment (CHAOS_SEEDS,
// CHAOS_FROM, CHAOS_SEED, CHAOS_RUN_MS). The test prints one line per seed as it finishes and the
// batch summary line, and writes the summary to results/last-run.json. Exits with vitest's code.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const usage = 'usage: npm run chaos -- [--seeds N] [--from S] [--seed S] [--run-ms MS]';
const flags = { '--seeds': 'CHAOS_SEEDS', '--from': 'CHAOS_FROM', '--seed': 'CHAOS_SEED', '--run-ms': 'CHAOS_RUN_MS' };

function fail(message) {
  console.error(`chaos: ${message}\n${usage}`);
  process.exit(2);
}

const chosen = {};
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--help' || args[i] === '-h') {
    console.log(usage);
    process.exit(0);
  }
  const [flag, inline] = args[i].split('=', 2);
  if (!(flag in flags)) fail(`unknown argument ${args[i]}`);
  const value = inline ?? args[++i];
  if (value === undefined || !/^\d+$/.test(value)) fail(`${flag} needs a non-negative integer`);
  chosen[flag] = value;
}

const env = { ...process.env, CHAOS_PROGRESS: process.env.CHAOS_PROGRESS ?? '1' };
// What the command line says replaces what the environment said.
if (chosen['--seeds'] !== undefined || chosen['--from'] !== undefined) delete env.CHAOS_SEED;
if (chosen['--seed'] !== undefined) delete env.CHAOS_SEEDS;
for (const [flag, value] of Object.entries(chosen)) env[flags[flag]] = value;
env.CHAOS_COMMAND = ['npm run chaos --', ...Object.entries(chosen).map(([f, v]) => `${f} ${v}`)].join(' ');

const vitest = path.join(path.dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
const file = path.join(pkgDir, 'results', 'last-run.json');
const mtime = () => (fs.existsSync(file) ? fs.statSync(file).mtimeMs : undefined);
// A vitest that died before its afterAll leaves the previous run's file: do not point at it.
const before = mtime();
const child = spawn(process.execPath, [vitest, 'run', 'test/chaos.test.ts'], { cwd: pkgDir, env, stdio: 'inherit' });
child.on('exit', (code, signal) => {
  const after = mtime();
  if (after !== undefined && after !== before) console.log(`chaos summary written to ${path.relative(process.cwd(), file)}`);
  else console.log('chaos: no summary written (vitest ended before the batch finished)');
  process.exit(code ?? (signal ? 1 : 0));
});
