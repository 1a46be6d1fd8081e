import { ResourceTracker, activeHandles, excess, settle } from './handles.js';
import { checkLedger, type Stats } from './invariants.js';
import { ChannelLedger, Ledger } from './ledger.js';
import { checkChannel } from './channel-invariants.js';
import { describePlan, makePlan, type FaultKind, type Plan } from './schedule.js';
import { World } from './world.js';

/** One seed's run: the schedule played against a real client, servers and the fault proxy. */

export interface RunResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly violations: readonly string[];
  readonly plan: string;
  readonly faults: Record<FaultKind, number>;
  readonly connectionsCut: number;
  readonly stats: Stats;
  readonly durationMs: number;
}

export interface RunOptions {
  /** Hard deadline of the whole run (steps, settling, checks). */
  deadlineMs: number;
  /** How long sockets get to finish closing before a handle counts as leaked. */
  settleMs?: number;
}

/** Play the schedule: wait for each step's trigger, then act. Spells never overlap each other. */
async function drive(world: World, plan: Plan): Promise<void> {
  await world.start();
  let spell: Promise<void> = Promise.resolve();
  for (const [i, step] of plan.steps.entries()) {
    if (world.aborted) return;
    world.step = i;
    await world.waitProgress(world.progress + step.waitProgress, step.maxWaitMs);
    if (world.aborted) return;
    const a = step.action;
    switch (a.kind) {
      case 'burst':
        world.sendBurst(a.count);
        break;
      case 'push':
        world.pushBurst(a.count);
        break;
      case 'cut':
        world.cut();
        break;
      case 'half-open':
      case 'fragment':
      case 'delay':
        await spell;
        spell = world.spell(a);
        break;
      case 'restart':
        // A restart may land inside a spell: the new server is reached once the spell ends.
        await world.restart(a.graceMs);
        break;
    }
  }
  await spell;
  world.step = plan.steps.length;
  await world.settle();
}

/** Wait for `promise` at most `ms`, leaving no timer behind. */
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

export async function runSeed(seed: number, options: RunOptions): Promise<RunResult> {
  const started = performance.now();
  const plan = makePlan(seed);
  const ledger = new Ledger();
  const violations: string[] = [];
  const baseline = activeHandles();
  const tracker = new ResourceTracker();
  tracker.start();
  const channel = new ChannelLedger();
  const world = new World(plan, ledger, channel);

  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<'deadline'>((resolve) => (timer = setTimeout(() => resolve('deadline'), options.deadlineMs)));
  const driving = drive(world, plan).then(
    () => 'done' as const,
    (error: unknown) => error,
  );
  const outcome = await Promise.race([driving, deadline]);
  clearTimeout(timer);
  if (outcome === 'deadline') {
    violations.push(`hard deadline of ${options.deadlineMs} ms passed at step ${world.step}/${plan.steps.length}: ${world.snapshot()}`);
    world.abort();
    await within(driving, 1_000);
  } else if (outcome !== 'done') {
    violations.push(`the run threw: ${outcome instanceof Error ? (outcome.stack ?? outcome.message) : String(outcome)}`);
    world.abort();
  } else {
    violations.push(...world.quiescent());
  }

  violations.push(...(await world.close()));
  // Sockets closed by now finish closing within a few turns; timers of ours are all cleared.
  const settleMs = options.settleMs ?? 1_000;
  const handlesBack = await settle(() => excess(activeHandles(), baseline).length === 0, settleMs);
  if (!handlesBack) violations.push(`active handles not back to baseline ${settleMs} ms after close: ${excess(activeHandles(), baseline).join(', ')}`);
  const trackedBack = await settle(() => tracker.size === 0, handlesBack ? settleMs : 0);
  tracker.stop();
  if (!trackedBack) violations.push(`timers/sockets created during the run still alive after close: ${tracker.describe().join('; ')}`);

  const findings = checkLedger(ledger, world.gens.length - 1);
  violations.push(...findings.violations);
  const channelFindings = checkChannel(channel, world.gens.length - 1, ledger.faults.restart);
  violations.push(...channelFindings.violations.slice(0, 40));
  findings.stats.publications = channel.publications.length;
  findings.stats.channelDeliveries = channelFindings.deliveries;
  findings.stats.gaps = channelFindings.gaps;
  return {
    seed,
    ok: violations.length === 0,
    violations,
    plan: describePlan(plan),
    faults: { ...ledger.faults },
    connectionsCut: ledger.connectionsCut,
    stats: findings.stats,
    durationMs: Math.round(performance.now() - started),
  };
}

/** The failure text: the seed first, how to replay it, then what broke. */
export function formatFailure(result: RunResult): string {
  return [
    `chaos seed ${result.seed} failed (${result.violations.length} violation(s), ${result.durationMs} ms)`,
    `replay: CHAOS_SEED=${result.seed} npm test -w @lifeline/chaos-tests -- test/chaos.test.ts   or   npm run chaos -- --seed ${result.seed}`,
    `plan: ${result.plan}`,
    ...result.violations.map((line) => `  - ${line}`),
  ].join('\n');
}
