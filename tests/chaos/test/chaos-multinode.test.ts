import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { closeAll } from '@lifeline/test-kit';
import { chaosSeeds } from '../src/batch.js';
import { nodeFaultKinds } from '../src/multinode/plan.js';
import { formatNodeFailure, runNodeSeed, type NodeRunResult } from '../src/multinode/run.js';

/**
 * Multi-node chaos (guarantee 10, docs/reliability.md#chaos): each seed runs three Lifeline node
 * processes on Redis behind a round-robin balancer, the client behind a fault proxy in front of
 * it, and a 4th node publishing; its schedule mixes sends and publications with cuts, half-open
 * links, fragmentation, delay, SIGKILLed nodes and graceful node restarts.
 *
 *   CHAOS_MODE=multinode CHAOS_SEEDS=300 npx vitest run test/chaos-multinode.test.ts   many seeds
 *   CHAOS_MODE=multinode CHAOS_SEED=7 npx vitest run test/chaos-multinode.test.ts      one seed
 *
 * Without CHAOS_MODE=multinode (as in `npm test`) it runs DEFAULT_NODE_SEEDS seeds, whatever
 * CHAOS_SEEDS says (that is the single-node suite's count).
 */

const DEFAULT_NODE_SEEDS = 2;
const multinode = process.env.CHAOS_MODE === 'multinode';
const { seeds, from } = multinode ? chaosSeeds() : chaosSeeds({ CHAOS_SEEDS: String(DEFAULT_NODE_SEEDS) });
const RUN_MS = Number(process.env.CHAOS_RUN_MS ?? 45_000);
const results: NodeRunResult[] = [];
const resultsDir = fileURLToPath(new URL('../results/', import.meta.url));

afterEach(closeAll);

afterAll(() => {
  const sum = (f: (r: NodeRunResult) => number) => results.reduce((n, r) => n + f(r), 0);
  const times = results.map((r) => r.durationMs).sort((a, b) => a - b);
  const summary = {
    kind: 'lifeline-chaos-multinode-summary',
    finishedAt: new Date().toISOString(),
    seedsRun: results.length,
    seedRange: `${from}..${from + seeds.length - 1}`,
    passed: results.filter((r) => r.ok).length,
    failedSeeds: results.filter((r) => !r.ok).map((r) => r.seed),
    faultsInjected: Object.fromEntries(nodeFaultKinds.map((k) => [k, sum((r) => r.faults[k])])),
    sends: sum((r) => r.stats.sends),
    resolved: sum((r) => r.stats.resolved),
    handlerCalls: sum((r) => r.stats.handlerCalls),
    redelivered: sum((r) => r.stats.redelivered),
    publications: sum((r) => r.stats.publications),
    delivered: sum((r) => r.stats.delivered),
    connections: sum((r) => r.stats.connections),
    runMs: { median: times[Math.floor(times.length / 2)] ?? 0, max: times[times.length - 1] ?? 0, total: sum((r) => r.durationMs) },
    node: process.version,
    command: `CHAOS_MODE=multinode CHAOS_SEEDS=${seeds.length} CHAOS_FROM=${from} npx vitest run test/chaos-multinode.test.ts`,
  };
  fs.mkdirSync(resultsDir, { recursive: true });
  fs.writeFileSync(`${resultsDir}last-run-multinode.json`, `${JSON.stringify(summary, null, 2)}\n`);
  const f = summary.faultsInjected;
  console.log(
    `chaos multinode: ${summary.seedsRun} seeds (${summary.seedRange}), ${summary.passed} passed` +
      (summary.failedSeeds.length > 0 ? `, FAILED seeds ${summary.failedSeeds.join(',')}` : '') +
      ` | faults: ${Object.entries(f).map(([k, n]) => `${k} ${n}`).join(', ')}` +
      ` | ${summary.sends} sends (${summary.resolved} resolved), ${summary.handlerCalls} handler calls (${summary.redelivered} flagged redelivered), ${summary.delivered}/${summary.publications} publications delivered`,
  );
});

describe('chaos, multi-node: guarantee 10 under node kills, restarts and link faults', () => {
  for (const seed of seeds) {
    it(`seed ${seed}`, async () => {
      const result = await runNodeSeed(seed, RUN_MS);
      results.push(result);
      if (process.env.CHAOS_PROGRESS === '1') {
        process.stderr.write(`seed ${seed}: ${result.ok ? 'ok' : 'FAILED'} ${result.durationMs} ms, ${result.stats.sends} sends, ${result.stats.redelivered} redelivered\n`);
      }
      expect(result.violations, formatNodeFailure(result)).toEqual([]);
    }, RUN_MS + 30_000);
  }
});
