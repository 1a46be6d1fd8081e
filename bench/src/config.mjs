/** Command-line options and the message counts of a full and of a quick run. */
import { parseArgs } from 'node:util';

export const FULL = Object.freeze({
  runs: 3,
  warmup: 2_000,
  // Long enough (~0.5 s for the fastest peers) that a few-percent difference is not lost in the
  // noise of a shared machine; 20k (~0.15 s) was not.
  messages: 100_000,
  window: 1_000,
  latencyWarmup: 200,
  latencyMessages: 2_000,
  /** Round trips between the forced GC's figure and the settled one (measure.mjs `latencies`). */
  latencySettle: 5_000,
  /**
   * Rounds of the `paired` task (each a settled reading of raw ws and of the peer). A p99 of 2,000
   * round trips is their 20 slowest, and a stall of the machine can fill them: one of Lifeline's
   * rounds read 3.74x raw ws at 21:06 (666 µs, its others 117-256). With 3 rounds such a round
   * moved a run's median; 7 keep it to what most rounds read (issue 14).
   */
  pairedRounds: 7,
  inFlight: [10_000, 100_000],
  replayMessages: 10_000,
  /** Load shapes (issue 14): messages per phase in one process, and in two (windowed and all at once alike). */
  burstLocal: 20_000,
  burstRemote: 50_000,
  /** Deadline of one measured phase inside a task. */
  phaseMs: 60_000,
  /** Hard deadline of one task process (start, connect, measure, close). */
  taskMs: 150_000,
});

export const QUICK = Object.freeze({
  runs: 1,
  warmup: 300,
  messages: 2_000,
  window: 1_000,
  latencyWarmup: 50,
  latencyMessages: 300,
  latencySettle: 500,
  pairedRounds: 2,
  inFlight: [1_000, 5_000],
  replayMessages: 1_000,
  burstLocal: 2_000,
  burstRemote: 3_000,
  phaseMs: 15_000,
  taskMs: 40_000,
});

export const TASKS = Object.freeze(['perf', 'shapes', 'paired', 'memory', 'replay']);

export const USAGE = `Usage: npm run bench [-- options]
  --runs N         runs per figure, the median is reported (default 3; 1 with --quick)
  --quick          a short smoke run with small counts; writes to bench/out/ unless --out
  --peers a,b      only these peers (raw-ws is always included as the reference)
  --tasks t,u      only these tasks: perf, shapes, paired, memory, replay (default all)
  --out DIR        where results.json/.md and the SVGs go, relative to where npm was run
                   (default docs/performance/ at the repository root)
  --no-docs        do not update the generated sections of docs/performance.md
  --help`;

export function parseCli(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string' },
      quick: { type: 'boolean', default: false },
      peers: { type: 'string' },
      tasks: { type: 'string' },
      out: { type: 'string' },
      'no-docs': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const base = values.quick ? QUICK : FULL;
  const runs = values.runs === undefined ? base.runs : Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 50) throw new TypeError(`--runs must be an integer from 1 to 50, got ${values.runs}`);
  const tasks = values.tasks ? values.tasks.split(',').map((t) => t.trim()) : TASKS;
  for (const t of tasks) if (!TASKS.includes(t)) throw new TypeError(`unknown task ${t}`);
  return {
    help: values.help,
    config: { ...base, runs, quick: values.quick },
    peers: values.peers?.split(',').map((p) => p.trim()),
    tasks,
    out: values.out,
    docs: !values['no-docs'],
  };
}
