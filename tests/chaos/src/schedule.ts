import { Rng, fnv1a } from './prng.js';

/**
 * A chaos schedule, generated from a seed: the options of the run, what each message does in
 * the handler, and the ordered steps (bursts of work and faults). Same seed, same schedule;
 * only the timing of the machine differs between replays.
 */

export const faultKinds = ['cut', 'half-open', 'fragment', 'delay', 'restart'] as const;
export type FaultKind = (typeof faultKinds)[number];

export type Action =
  /** `count` client sends, the next ones in send order, issued in the same turn. */
  | { readonly kind: 'burst'; readonly count: number }
  /** `count` server pushes on the current session (`session.send`). */
  | { readonly kind: 'push'; readonly count: number }
  /** `proxy.cutAll()`: both sides of every connection destroyed at once. */
  | { readonly kind: 'cut' }
  /** `proxy.silence()` for `spellMs`, then `heal()` + `cutAll()`: a half-open link. */
  | { readonly kind: 'half-open'; readonly spellMs: number }
  /** `proxy.fragment(1)` for `spellMs`, then `fragment(0)`. */
  | { readonly kind: 'fragment'; readonly spellMs: number }
  /** `proxy.delay(delayMs, jitterMs)` for `spellMs`, then `delay(0)`. */
  | { readonly kind: 'delay'; readonly spellMs: number; readonly delayMs: number; readonly jitterMs: number }
  /** A new server (empty in-memory store) behind `proxy.setTarget`, the old one cut and closed with `graceMs`. */
  | { readonly kind: 'restart'; readonly graceMs: number };

/** A step runs once `waitProgress` more sends settled / pushes arrived, or after `maxWaitMs`, whichever is first. */
export interface Step {
  readonly waitProgress: number;
  readonly maxWaitMs: number;
  readonly action: Action;
}

export interface SendSpec {
  /** Characters of padding in the payload (a few are large, to be cut mid-frame). */
  readonly pad: number;
  /** A short per-send deadline (guarantee 4), or undefined for the run's long default. */
  readonly timeoutMs: number | undefined;
}

export interface Plan {
  readonly seed: number;
  readonly client: {
    readonly maxInFlight: number;
    readonly maxQueued: number;
    readonly maxBuffered: number;
    readonly heartbeatIntervalMs: number;
    readonly heartbeatTimeoutMs: number;
    readonly connectTimeoutMs: number;
  };
  readonly server: {
    readonly maxInFlight: number;
    readonly heartbeatIntervalMs: number;
    readonly heartbeatTimeoutMs: number;
  };
  readonly sends: readonly SendSpec[];
  readonly pushes: number;
  readonly steps: readonly Step[];
}

/** What the handler does with a message, fixed by its id (so a re-send behaves the same). */
export interface Behaviour {
  /** Ids whose hash is ≡ 0 mod 7 throw: the send rejects with `RemoteError` code `E_CHAOS`. */
  readonly throws: boolean;
  /** How the handler completes: at once, after a microtask, a macrotask, or a timer. */
  readonly mode: 'sync' | 'microtask' | 'immediate' | 'timer';
  readonly delayMs: number;
  /** The handler also pushes a message to the client from inside the handler. */
  readonly pushes: boolean;
}

const modes = ['sync', 'microtask', 'immediate', 'timer'] as const;

export function behaviourOf(id: string): Behaviour {
  const h = fnv1a(id);
  return {
    throws: h % 7 === 0,
    mode: modes[(h >>> 3) & 3] as Behaviour['mode'],
    delayMs: 1 + ((h >>> 5) % 12),
    pushes: (h >>> 9) % 13 === 0,
  };
}

export const idOf = (seed: number, index: number): string => `c${seed}-${index}`;

/** The handler's result for message `n`; `g` says which server generation handled it. */
export const resultOf = (n: number, g: number) => ({ n, sq: (n * n) % 1_000_003, g });

const burstSizes = [1, 1, 2, 3, 5, 8, 13, 21, 34, 50];
const pushSizes = [1, 2, 3, 5, 8, 13, 25];

function split(total: number, rng: Rng, sizes: readonly number[]): number[] {
  const parts: number[] = [];
  for (let left = total; left > 0; ) {
    const n = Math.min(left, rng.pick(sizes));
    parts.push(n);
    left -= n;
  }
  return parts;
}

function fault(kind: FaultKind, rng: Rng): Action {
  switch (kind) {
    case 'cut':
      return { kind };
    case 'half-open':
      return { kind, spellMs: rng.int(120, 500) };
    case 'fragment':
      return { kind, spellMs: rng.int(30, 250) };
    case 'delay':
      return { kind, spellMs: rng.int(50, 300), delayMs: rng.int(1, 20), jitterMs: rng.int(0, 20) };
    case 'restart':
      return { kind, graceMs: rng.int(0, 150) };
  }
}

export function makePlan(seed: number): Plan {
  const rng = new Rng(seed);
  const sendCount = rng.int(120, 360);
  const pushCount = rng.int(20, 120);
  const shortRate = rng.pick([0, 0.02, 0.05]);
  const sends: SendSpec[] = Array.from({ length: sendCount }, () => ({
    pad: rng.chance(0.03) ? rng.int(2_000, 12_000) : rng.int(0, 120),
    timeoutMs: rng.chance(shortRate) ? rng.int(5, 80) : undefined,
  }));

  // Every run has every kind of fault at least once, then a few more (cuts the most likely).
  const faults: Action[] = faultKinds.map((kind) => fault(kind, rng));
  const extra = rng.int(0, 6);
  let restarts = 1;
  for (let i = 0; i < extra; i++) {
    let kind = rng.pick<FaultKind>(['cut', 'cut', 'cut', 'half-open', 'fragment', 'delay', 'restart']);
    if (kind === 'restart' && ++restarts > 3) kind = 'cut';
    faults.push(fault(kind, rng));
  }
  const actions: Action[] = [
    ...split(sendCount, rng, burstSizes).map((count): Action => ({ kind: 'burst', count })),
    ...split(pushCount, rng, pushSizes).map((count): Action => ({ kind: 'push', count })),
    ...faults,
  ];
  rng.shuffle(actions);
  // Start with work, so the first fault has something to break.
  const first = actions.findIndex((a) => a.kind === 'burst');
  actions.unshift(...actions.splice(first, 1));

  return {
    seed,
    client: {
      maxInFlight: rng.pick([4, 16, 64, 1024, 65_535]),
      maxQueued: rng.pick([8, 32, 10_000]),
      maxBuffered: rng.pick([8, 64, 1024]),
      heartbeatIntervalMs: 50,
      heartbeatTimeoutMs: 200,
      connectTimeoutMs: 400,
    },
    server: {
      maxInFlight: rng.pick([16, 64, 1024, 65_535]),
      heartbeatIntervalMs: rng.int(50, 250),
      heartbeatTimeoutMs: rng.int(300, 1_500),
    },
    sends,
    pushes: pushCount,
    steps: actions.map((action) => ({ waitProgress: rng.int(0, 25), maxWaitMs: rng.int(10, 150), action })),
  };
}

/** One line describing a plan, printed with a failure. */
export function describePlan(plan: Plan): string {
  const counts: Record<string, number> = {};
  for (const s of plan.steps) counts[s.action.kind] = (counts[s.action.kind] ?? 0) + 1;
  const shorts = plan.sends.filter((s) => s.timeoutMs !== undefined).length;
  return (
    `sends=${plan.sends.length} (short deadlines ${shorts}) pushes=${plan.pushes} steps=${JSON.stringify(counts)} ` +
    `client=${JSON.stringify(plan.client)} server=${JSON.stringify(plan.server)}`
  );
}
