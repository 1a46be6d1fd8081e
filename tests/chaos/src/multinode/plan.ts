import { Rng } from '../prng.js';

/**
 * A multi-node chaos schedule, from a seed: sends in bursts, publications from a node outside
 * the balancer, and faults on the client's link (through a fault proxy in front of the balancer)
 * and on the nodes themselves. Same seed, same schedule.
 */

export const nodeFaultKinds = ['cut', 'half-open', 'fragment', 'delay', 'kill', 'restart'] as const;
export type NodeFaultKind = (typeof nodeFaultKinds)[number];

export type NodeAction =
  | { readonly kind: 'burst'; readonly count: number }
  | { readonly kind: 'publish'; readonly count: number }
  | { readonly kind: 'cut' }
  | { readonly kind: 'half-open'; readonly spellMs: number }
  | { readonly kind: 'fragment'; readonly spellMs: number }
  | { readonly kind: 'delay'; readonly spellMs: number; readonly delayMs: number; readonly jitterMs: number }
  /** SIGKILL node `pick` (mod the live count), then start a replacement behind the balancer. */
  | { readonly kind: 'kill'; readonly pick: number }
  /** Out of the balancer, SIGTERM (server.close()), replacement in: one step of a rolling restart. */
  | { readonly kind: 'restart'; readonly pick: number };

export interface NodeStep {
  readonly waitProgress: number;
  readonly maxWaitMs: number;
  readonly action: NodeAction;
}

export interface NodePlan {
  readonly seed: number;
  readonly nodes: number;
  /** Per send: a short deadline (ms) or undefined; ids ending in '!' fail in the handler. */
  readonly sends: ReadonlyArray<{ readonly timeoutMs: number | undefined; readonly fails: boolean }>;
  readonly publications: number;
  readonly client: { readonly maxInFlight: number; readonly heartbeatIntervalMs: number; readonly heartbeatTimeoutMs: number };
  readonly handlerDelayMs: number;
  readonly steps: readonly NodeStep[];
}

export const sendId = (seed: number, index: number, fails: boolean): string => `m${seed}-${index}${fails ? '!' : ''}`;

const burstSizes = [1, 2, 3, 5, 8, 13, 21, 34, 50];

function split(total: number, rng: Rng, sizes: readonly number[]): number[] {
  const parts: number[] = [];
  for (let left = total; left > 0; ) {
    const n = Math.min(left, rng.pick(sizes));
    parts.push(n);
    left -= n;
  }
  return parts;
}

function fault(kind: NodeFaultKind, rng: Rng): NodeAction {
  switch (kind) {
    case 'cut':
      return { kind };
    case 'half-open':
      return { kind, spellMs: rng.int(120, 500) };
    case 'fragment':
      return { kind, spellMs: rng.int(30, 250) };
    case 'delay':
      return { kind, spellMs: rng.int(50, 300), delayMs: rng.int(1, 20), jitterMs: rng.int(0, 20) };
    case 'kill':
    case 'restart':
      return { kind, pick: rng.int(0, 99) };
  }
}

export function makeNodePlan(seed: number): NodePlan {
  const rng = new Rng(seed).fork('multinode');
  const sendCount = rng.int(150, 400);
  const publications = rng.int(20, 80);
  const shortRate = rng.pick([0, 0.02, 0.05]);
  const sends = Array.from({ length: sendCount }, () => ({
    timeoutMs: rng.chance(shortRate) ? rng.int(5, 80) : undefined,
    fails: rng.chance(1 / 7),
  }));
  // Every kind at least once, then up to four more (cuts and kills the most likely).
  const faults: NodeAction[] = nodeFaultKinds.map((kind) => fault(kind, rng));
  const extra = rng.int(0, 4);
  for (let i = 0; i < extra; i++) faults.push(fault(rng.pick<NodeFaultKind>(['cut', 'cut', 'kill', 'kill', 'restart', 'half-open', 'fragment', 'delay']), rng));
  const actions: NodeAction[] = [
    ...split(sendCount, rng, burstSizes).map((count): NodeAction => ({ kind: 'burst', count })),
    ...split(publications, rng, [1, 2, 3, 5, 8]).map((count): NodeAction => ({ kind: 'publish', count })),
    ...faults,
  ];
  rng.shuffle(actions);
  const first = actions.findIndex((a) => a.kind === 'burst');
  actions.unshift(...actions.splice(first, 1));
  return {
    seed,
    nodes: 3,
    sends,
    publications,
    client: { maxInFlight: rng.pick([16, 64, 1024]), heartbeatIntervalMs: 100, heartbeatTimeoutMs: 600 },
    handlerDelayMs: rng.pick([0, 1, 5]),
    steps: actions.map((action) => ({ waitProgress: rng.int(0, 25), maxWaitMs: rng.int(10, 150), action })),
  };
}

export function describeNodePlan(plan: NodePlan): string {
  const counts: Record<string, number> = {};
  for (const s of plan.steps) counts[s.action.kind] = (counts[s.action.kind] ?? 0) + 1;
  return `sends=${plan.sends.length} publications=${plan.publications} steps=${JSON.stringify(counts)} client=${JSON.stringify(plan.client)} handlerDelayMs=${plan.handlerDelayMs}`;
}
