import fs from 'node:fs';
import path from 'node:path';
import { faultKinds, type FaultKind } from './schedule.js';
import type { RunResult } from './run.js';
import type { Stats } from './invariants.js';

/** The seeds of this run, from the environment (set by `npm run chaos` or by hand). */
export function chaosSeeds(env: NodeJS.ProcessEnv = process.env): { seeds: number[]; from: number } {
  if (env.CHAOS_SEED !== undefined && env.CHAOS_SEED !== '') {
    const seed = Number(env.CHAOS_SEED);
    if (!Number.isSafeInteger(seed) || seed < 0) throw new TypeError(`CHAOS_SEED must be a non-negative integer, got ${env.CHAOS_SEED}`);
    return { seeds: [seed], from: seed };
  }
  const count = Number(env.CHAOS_SEEDS ?? DEFAULT_SEEDS);
  const from = Number(env.CHAOS_FROM ?? 1);
  if (!Number.isSafeInteger(count) || count < 1) throw new TypeError(`CHAOS_SEEDS must be a positive integer, got ${env.CHAOS_SEEDS}`);
  if (!Number.isSafeInteger(from) || from < 0) throw new TypeError(`CHAOS_FROM must be a non-negative integer, got ${env.CHAOS_FROM}`);
  return { seeds: Array.from({ length: count }, (_, i) => from + i), from };
}

/** Seeds `npm test` runs: enough to mix every fault several times, under a minute on 2 cores. */
export const DEFAULT_SEEDS = 10;

export interface Summary {
  readonly kind: 'lifeline-chaos-summary';
  readonly finishedAt: string;
  readonly seedsRun: number;
  readonly seedRange: string;
  readonly passed: number;
  readonly failedSeeds: number[];
  readonly faultsInjected: Record<FaultKind, number> & { connectionsCut: number };
  readonly messagesChecked: number;
  readonly totals: Omit<Stats, 'lost' | 'duplicates'>;
  readonly lost: number;
  readonly duplicates: number;
  readonly runMs: { readonly median: number; readonly max: number; readonly total: number };
  readonly node: string;
  readonly command: string;
}

export class Batch {
  private readonly results: RunResult[] = [];

  constructor(private readonly command: string) {}

  add(result: RunResult): void {
    this.results.push(result);
  }

  summary(): Summary {
    const r = this.results;
    const faults = Object.fromEntries(faultKinds.map((k) => [k, sum(r, (x) => x.faults[k])])) as Record<FaultKind, number>;
    const statKeys = Object.keys(r[0]?.stats ?? {}) as Array<keyof Stats>;
    const totals = Object.fromEntries(statKeys.filter((k) => k !== 'lost' && k !== 'duplicates').map((k) => [k, sum(r, (x) => x.stats[k])]));
    const times = r.map((x) => x.durationMs).sort((a, b) => a - b);
    const seeds = r.map((x) => x.seed).sort((a, b) => a - b);
    return {
      kind: 'lifeline-chaos-summary',
      finishedAt: new Date().toISOString(),
      seedsRun: r.length,
      seedRange: seeds.length === 0 ? '' : contiguous(seeds) ? `${seeds[0]}..${seeds[seeds.length - 1]}` : seeds.join(','),
      passed: r.filter((x) => x.ok).length,
      failedSeeds: r.filter((x) => !x.ok).map((x) => x.seed),
      faultsInjected: { ...faults, connectionsCut: sum(r, (x) => x.connectionsCut) },
      messagesChecked: sum(r, (x) => x.stats.messagesChecked),
      totals: totals as Summary['totals'],
      lost: sum(r, (x) => x.stats.lost),
      duplicates: sum(r, (x) => x.stats.duplicates),
      runMs: { median: times[Math.floor(times.length / 2)] ?? 0, max: times[times.length - 1] ?? 0, total: sum(r, (x) => x.durationMs) },
      node: process.version,
      command: this.command,
    };
  }

  /** Print the one-line summary and write it as JSON to results/last-run.json. */
  finish(dir: string): Summary {
    const s = this.summary();
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'last-run.json'), `${JSON.stringify(s, null, 2)}\n`);
    console.log(summaryLine(s));
    return s;
  }
}

export function summaryLine(s: Summary): string {
  const f = s.faultsInjected;
  return (
    `chaos: ${s.seedsRun} seeds (${s.seedRange}), ${s.passed} passed` +
    (s.failedSeeds.length > 0 ? `, FAILED seeds ${s.failedSeeds.join(',')}` : '') +
    ` | faults: cut ${f.cut}, half-open ${f['half-open']}, fragment ${f.fragment}, delay ${f.delay}, restart ${f.restart} (${f.connectionsCut} connections cut)` +
    ` | messages checked ${s.messagesChecked} (${s.totals.sends} sends, ${s.totals.pushes} pushes, ${s.totals.handlerCalls} handler calls)` +
    ` | lost = ${s.lost}, duplicates = ${s.duplicates}`
  );
}

function sum<T>(items: readonly T[], f: (item: T) => number): number {
  return items.reduce((n, item) => n + f(item), 0);
}

function contiguous(sorted: number[]): boolean {
  return sorted.every((n, i) => i === 0 || n === sorted[i - 1]! + 1);
}
