import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Batch, chaosSeeds } from '../src/batch.js';
import { formatFailure, runSeed } from '../src/run.js';

/**
 * Randomised chaos (docs/reliability.md#chaos): each seed is a schedule of bursts, pushes and
 * faults — cuts, half-open spells, one-byte fragmentation, delay with jitter, server restarts —
 * played against a real client and server through the fault proxy, then checked against the
 * invariants of src/invariants.ts. A failure prints its seed and the command that replays it.
 *
 *   CHAOS_SEED=7 npm test -w @lifeline/chaos-tests -- test/chaos.test.ts     one seed
 *   npm run chaos -- --seeds 200 [--from 1000]                               many seeds
 */

const { seeds, from } = chaosSeeds();
const RUN_MS = Number(process.env.CHAOS_RUN_MS ?? 20_000);
const resultsDir = fileURLToPath(new URL('../results/', import.meta.url));
const batch = new Batch(process.env.CHAOS_COMMAND ?? `CHAOS_SEEDS=${seeds.length} CHAOS_FROM=${from} vitest run test/chaos.test.ts`);

afterAll(() => {
  batch.finish(resultsDir);
});

// CHAOS_MODE=multinode runs test/chaos-multinode.test.ts's seeds only.
describe.skipIf(process.env.CHAOS_MODE === 'multinode')('chaos: guarantees 1–6 under a seeded mix of faults', () => {
  for (const seed of seeds) {
    it(`seed ${seed}`, async () => {
      const result = await runSeed(seed, { deadlineMs: RUN_MS });
      batch.add(result);
      if (process.env.CHAOS_PROGRESS === '1') {
        const s = result.stats;
        process.stderr.write(`seed ${seed}: ${result.ok ? 'ok' : 'FAILED'} ${result.durationMs} ms, ${s.messagesChecked} messages, lost ${s.lost}, duplicates ${s.duplicates}\n`);
      }
      expect(result.violations, formatFailure(result)).toEqual([]);
      expect(result.stats.lost).toBe(0);
      expect(result.stats.duplicates).toBe(0);
    }, RUN_MS + 15_000);
  }
});
