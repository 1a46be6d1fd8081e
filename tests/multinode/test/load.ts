import type { LifelineClient, Subscription } from '@lifeline/sdk';
import type { Cluster, LifelineNode } from '@lifeline/test-kit';

/** What the node handler answers for message `n` (tests/kit/src/node-child.ts). */
export const resultOf = (n: number) => ({ n, sq: (n * n) % 1_000_003 });

export type Outcome = { readonly kind: 'resolved'; readonly value: unknown } | { readonly kind: 'rejected'; readonly error: unknown };

/** `count` sends with ids `${tag}-${n}`, at most `window` outstanding; `done` once every one settled. */
export class WindowedSender {
  readonly outcomes = new Map<string, Outcome>();
  acked = 0;
  settled = 0;
  readonly done: Promise<void>;
  private next = 0;
  private stopped = false;

  constructor(
    private readonly client: LifelineClient,
    readonly count: number,
    private readonly window: number,
    readonly tag: string,
    private readonly timeoutMs = 60_000,
  ) {
    this.done = new Promise((resolve) => {
      this.finish = resolve;
      for (let i = 0; i < window; i++) this.fill();
    });
  }

  private finish!: () => void;

  idOf(n: number): string {
    return `${this.tag}-${n}`;
  }

  /** Stop issuing new sends; those out still settle. */
  stop(): void {
    this.stopped = true;
  }

  private fill(): void {
    if (this.stopped || this.next >= this.count) {
      if (this.settled === this.next) this.finish();
      return;
    }
    const n = this.next++;
    const id = this.idOf(n);
    this.client.send({ n }, { id, timeoutMs: this.timeoutMs }).then(
      (value) => {
        this.outcomes.set(id, { kind: 'resolved', value });
        this.acked++;
        this.settle();
      },
      (error: unknown) => {
        this.outcomes.set(id, { kind: 'rejected', error });
        this.settle();
      },
    );
  }

  private settle(): void {
    this.settled++;
    this.fill();
  }
}

/** Every send resolved with its own result; the list of what did not (first 10). */
export function wrongOutcomes(sender: WindowedSender): string[] {
  const wrong: string[] = [];
  for (let n = 0; n < sender.count; n++) {
    const id = sender.idOf(n);
    const o = sender.outcomes.get(id);
    if (o === undefined) wrong.push(`${id}: never settled`);
    else if (o.kind === 'rejected') wrong.push(`${id}: rejected ${String((o.error as Error)?.name)} ${String((o.error as Error)?.message)}`);
    else if (JSON.stringify(o.value) !== JSON.stringify(resultOf(n))) wrong.push(`${id}: resolved with ${JSON.stringify(o.value)}`);
  }
  return wrong.slice(0, 10);
}

/**
 * Each id handed to a handler once, plus at most one flagged redelivery; only ids that were sent.
 * `resolvedIds` must each have been handled at least once. Returns the violations and the counts.
 */
export async function checkRecords(cluster: Cluster, sentIds: ReadonlySet<string>, resolvedIds: Iterable<string>) {
  const records = await cluster.records();
  const violations: string[] = [];
  let redelivered = 0;
  for (const [id, r] of records) {
    if (!sentIds.has(id)) violations.push(`${id}: handled but never sent`);
    if (r.handled > 1) violations.push(`${id}: handed to a handler ${r.handled} times unflagged`);
    if (r.redelivered > 1) violations.push(`${id}: redelivered ${r.redelivered} times`);
    redelivered += r.redelivered;
  }
  for (const id of resolvedIds) {
    const r = records.get(id);
    if (r === undefined || r.handled + r.redelivered === 0) violations.push(`${id}: acked but never recorded as handled`);
  }
  return { violations: violations.slice(0, 20), handledIds: records.size, redelivered };
}

/** What a subscriber saw, in arrival order. */
export interface Seen {
  readonly pubs: Array<{ readonly k: number; readonly offset: number; readonly epoch: string }>;
  readonly gaps: Array<{ readonly from: number; readonly to: number; readonly reason: string }>;
}

export function watch(sub: Subscription): Seen {
  const seen: Seen = { pubs: [], gaps: [] };
  sub.on('publication', (data, meta) => seen.pubs.push({ k: (data as { k: number }).k, offset: meta.offset, epoch: meta.epoch }));
  sub.on('gap', (gap) => seen.gaps.push({ from: gap.from, to: gap.to, reason: gap.reason }));
  return seen;
}

/** Publications k = 1..count from `node`, one at a time, each retried under its id until stored. */
export class Publisher {
  published = 0;
  /** Offsets by k, as the store answered. */
  readonly offsets = new Map<number, number>();
  private stopped = false;
  readonly done: Promise<void>;

  constructor(
    private readonly node: () => LifelineNode,
    private readonly ch: string,
    readonly count: number,
    private readonly everyMs: number,
    private readonly tag = 'p',
  ) {
    this.done = this.run();
  }

  stop(): void {
    this.stopped = true;
  }

  private async run(): Promise<void> {
    for (let k = 1; k <= this.count && !this.stopped; k++) {
      // Bounded: 200 tries, about 20 s, per publication.
      for (let attempt = 0; ; attempt++) {
        try {
          const r = await this.node().publish(this.ch, { k }, `${this.tag}-${k}`, 3_000);
          this.offsets.set(k, r.offset);
          break;
        } catch (error) {
          if (attempt >= 200 || this.stopped) throw new Error(`publication ${k} not stored: ${String(error)}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      this.published = k;
      await new Promise((r) => setTimeout(r, this.everyMs));
    }
  }
}

/** Every publication 1..count once, in offset order, with no gap. */
export function wrongPublications(seen: Seen, count: number, firstOffset = 1): string[] {
  const wrong: string[] = [];
  if (seen.gaps.length > 0) wrong.push(`gaps: ${JSON.stringify(seen.gaps)}`);
  const ks = seen.pubs.map((p) => p.k);
  const expected = Array.from({ length: count }, (_, i) => i + 1);
  if (JSON.stringify(ks) !== JSON.stringify(expected)) {
    const dup = ks.filter((k, i) => ks.indexOf(k) !== i);
    const missing = expected.filter((k) => !ks.includes(k));
    wrong.push(`publications: ${ks.length} seen of ${count}; duplicates ${JSON.stringify(dup.slice(0, 10))}; missing ${JSON.stringify(missing.slice(0, 10))}`);
  }
  seen.pubs.forEach((p, i) => {
    if (p.offset !== firstOffset + i && wrong.length < 10) wrong.push(`publication #${i + 1} (k=${p.k}) has offset ${p.offset}, expected ${firstOffset + i}`);
  });
  return wrong;
}
