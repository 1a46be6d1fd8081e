import { describe, expect, it } from 'vitest';
import { chaosSeeds } from '../src/batch.js';
import { runRestarts } from '../src/restarts.js';

/**
 * Client restarts with a durable outbox under cuts (src/restarts.ts): closed or "crashed"
 * lifetimes sharing one store, each seed checked for loss, order, and second handlings the docs
 * do not allow.
 *
 *   CHAOS_SEED=7 npm test -w @lifeline/chaos-tests -- test/restarts.test.ts     one seed
 *   CHAOS_SEEDS=300 npm test -w @lifeline/chaos-tests -- test/restarts.test.ts  many seeds
 */

// A seed takes ~25 ms, so CI runs 50 of them; CHAOS_SEED / CHAOS_SEEDS / CHAOS_FROM override.
const { seeds } = chaosSeeds({ CHAOS_SEEDS: '50', ...process.env });

describe('chaos: the durable outbox across client restarts (guarantee 8)', () => {
  const totals = { lifetimes: 0, crashes: 0, sends: 0, restored: 0, secondHandlings: 0, cuts: 0 };
  for (const seed of seeds) {
    it(`seed ${seed}`, async () => {
      const { violations, stats } = await runRestarts(seed);
      for (const key of Object.keys(totals) as Array<keyof typeof totals>) totals[key] += stats[key];
      expect(violations, `replay: CHAOS_SEED=${seed} npm test -w @lifeline/chaos-tests -- test/restarts.test.ts`).toEqual([]);
    }, 60_000);
  }
  it('summary', () => {
    process.stdout.write(`restarts: ${seeds.length} seeds | ${JSON.stringify(totals)}\n`);
    expect(totals.sends).toBeGreaterThan(0);
  });
});
