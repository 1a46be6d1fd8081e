import { FaultProxy } from '@lifeline/fault-proxy';
import { AckTimeoutError, RemoteError, createClient, type LifelineClient } from '@lifeline/sdk';
import { REDIS_URL, onCleanup, redisAdmin, startCluster, testPrefix, type Cluster, type LifelineNode } from '@lifeline/test-kit';
import { describeError } from '../describe-error.js';
import { Rng } from '../prng.js';
import { describeNodePlan, makeNodePlan, nodeFaultKinds, sendId, type NodeFaultKind, type NodePlan } from './plan.js';

/**
 * One multi-node chaos seed: three Lifeline node processes on Redis behind a round-robin
 * balancer, a fault proxy between the client and the balancer, a 4th node publishing. The
 * plan's steps send, publish, fault the client's link, and SIGKILL or restart nodes; then the
 * invariants of guarantee 10 are checked against what the handlers recorded in Redis.
 * Everything it opens is closed by the kit's `closeAll` (the test's afterEach).
 */

export const CHANNEL = 'chaos:mn';
const LONG_DEADLINE_MS = 60_000;

export interface NodeRunResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly violations: readonly string[];
  readonly plan: string;
  readonly faults: Record<NodeFaultKind, number>;
  readonly stats: { sends: number; resolved: number; handlerCalls: number; redelivered: number; publications: number; delivered: number; connections: number };
  readonly durationMs: number;
}

type Outcome = { kind: 'resolved'; value: unknown } | { kind: 'rejected'; error: unknown };

export async function runNodeSeed(seed: number, deadlineMs: number): Promise<NodeRunResult> {
  const started = performance.now();
  const plan = makeNodePlan(seed);
  const violations: string[] = [];
  const faults = Object.fromEntries(nodeFaultKinds.map((k) => [k, 0])) as Record<NodeFaultKind, number>;
  const outcomes = new Map<string, Outcome>();
  const delivered: Array<{ k: number; offset: number }> = [];
  const gaps: unknown[] = [];
  const lost: unknown[] = [];
  let progress = 0;

  const admin = await redisAdmin();
  const prefix = testPrefix(admin, 'llchaos');
  const cluster = await startCluster(plan.nodes, { redisUrl: REDIS_URL, keyPrefix: prefix, recordUrl: REDIS_URL, recordPrefix: `${prefix}test:`, handlerDelayMs: plan.handlerDelayMs }, admin);
  const publisher = await cluster.add(false);
  const rng = new Rng(seed).fork('multinode-world');
  const proxy = await FaultProxy.start({ target: { port: cluster.balancer.port }, random: rng.fork('proxy').next });
  onCleanup(() => proxy.close());
  const client = createClient({
    url: proxy.url(),
    reconnect: { minDelayMs: 5, maxDelayMs: 50 },
    heartbeatIntervalMs: plan.client.heartbeatIntervalMs,
    heartbeatTimeoutMs: plan.client.heartbeatTimeoutMs,
    connectTimeoutMs: 1_000,
    ackTimeoutMs: LONG_DEADLINE_MS,
    maxInFlight: plan.client.maxInFlight,
    random: rng.fork('jitter').next,
  });
  onCleanup(() => client.close({ timeoutMs: 1_000 }));
  client.on('session-lost', (info) => lost.push(info));
  client.on('error', (e) => violations.push(`client 'error': ${describeError(e)}`));
  await client.connect({ timeoutMs: 10_000 });
  const sub = client.subscribe(CHANNEL);
  sub.on('publication', (data, meta) => {
    delivered.push({ k: (data as { k: number }).k, offset: meta.offset });
    progress++;
  });
  sub.on('gap', (gap) => gaps.push(gap));
  await sub.ready({ timeoutMs: 10_000 });
  const startOffset = sub.position?.offset ?? 0;

  const settled: Array<Promise<void>> = [];
  let nextSend = 0;
  const sendBurst = (count: number) => {
    for (let j = 0; j < count && nextSend < plan.sends.length; j++) {
      const index = nextSend++;
      const spec = plan.sends[index]!;
      const id = sendId(seed, index, spec.fails);
      settled.push(
        client.send({ n: index }, { id, timeoutMs: spec.timeoutMs ?? LONG_DEADLINE_MS }).then(
          (value) => void outcomes.set(id, { kind: 'resolved', value }),
          (error: unknown) => void outcomes.set(id, { kind: 'rejected', error }),
        ).finally(() => progress++),
      );
    }
  };

  // Publications go out one at a time, in order, each retried under its id until stored.
  let toPublish = 0;
  let published = 0;
  let publishing: Promise<void> = Promise.resolve();
  const publish = (count: number) => {
    toPublish += count;
    publishing = publishing.then(async () => {
      while (published < toPublish) {
        const k = published + 1;
        for (let attempt = 0; ; attempt++) {
          try {
            await publisher.publish(CHANNEL, { k }, `p${seed}-${k}`, 3_000);
            break;
          } catch (error) {
            if (attempt >= 50) throw new Error(`publication ${k} not stored: ${String(error)}`);
            await new Promise((r) => setTimeout(r, 50));
          }
        }
        published = k;
      }
    });
  };

  const pickNode = (pick: number): LifelineNode => cluster.nodes[pick % cluster.nodes.length] as LifelineNode;
  const spell = async (on: () => void, off: () => void, ms: number) => {
    on();
    await new Promise((r) => setTimeout(r, ms));
    off();
  };

  const drive = async () => {
    for (const step of plan.steps) {
      const target = progress + step.waitProgress;
      const until = Date.now() + step.maxWaitMs;
      while (progress < target && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
      const a = step.action;
      if (a.kind !== 'burst' && a.kind !== 'publish') faults[a.kind]++;
      switch (a.kind) {
        case 'burst':
          sendBurst(a.count);
          break;
        case 'publish':
          publish(a.count);
          break;
        case 'cut':
          proxy.cutAll();
          break;
        case 'half-open':
          await spell(() => proxy.silence(), () => (proxy.heal(), proxy.cutAll()), a.spellMs);
          break;
        case 'fragment':
          await spell(() => proxy.fragment(1), () => proxy.fragment(0), a.spellMs);
          break;
        case 'delay':
          await spell(() => proxy.delay(a.delayMs, a.jitterMs), () => proxy.delay(0, 0), a.spellMs);
          break;
        case 'kill':
          await cluster.killAndReplace(pickNode(a.pick));
          break;
        case 'restart': {
          const { code } = await cluster.restart(pickNode(a.pick));
          if (code !== 0) violations.push(`a node stopped by SIGTERM exited with ${code}`);
          break;
        }
      }
    }
    sendBurst(plan.sends.length);
    await Promise.all(settled);
    await publishing;
    // Every publication stored must reach the subscriber.
    const end = Date.now() + 15_000;
    while (delivered.length < published && gaps.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  };

  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    drive().then(() => 'done' as const, (error: unknown) => error),
    new Promise<'deadline'>((resolve) => (timer = setTimeout(() => resolve('deadline'), deadlineMs))),
  ]);
  clearTimeout(timer);
  if (outcome === 'deadline') violations.push(`hard deadline of ${deadlineMs} ms passed: ${outcomes.size}/${plan.sends.length} sends settled, ${delivered.length}/${published} publications delivered, client ${client.state}`);
  else if (outcome !== 'done') violations.push(`the run threw: ${describeError(outcome)}`);

  const records = await cluster.records();
  violations.push(...checkSends(plan, outcomes, records));
  violations.push(...checkChannel(delivered, gaps, published, startOffset));
  if (lost.length > 0) violations.push(`session-lost ${lost.length} time(s): ${JSON.stringify(lost).slice(0, 300)}`);
  violations.push(...cluster.crashes().map((c) => `node crashed: ${c.slice(0, 500)}`));
  let handlerCalls = 0;
  let redelivered = 0;
  for (const r of records.values()) {
    handlerCalls += r.handled + r.redelivered;
    redelivered += r.redelivered;
  }
  return {
    seed,
    ok: violations.length === 0,
    violations: violations.slice(0, 40),
    plan: describeNodePlan(plan),
    faults,
    stats: {
      sends: plan.sends.length,
      resolved: [...outcomes.values()].filter((o) => o.kind === 'resolved').length,
      handlerCalls,
      redelivered,
      publications: published,
      delivered: delivered.length,
      connections: cluster.balancer.accepted,
    },
    durationMs: Math.round(performance.now() - started),
  };
}

/** Guarantees 1, 4 and 10 on the sends: each settled as it should, each handled once (plus one flagged redelivery). */
export function checkSends(plan: NodePlan, outcomes: ReadonlyMap<string, Outcome>, records: Map<string, { handled: number; redelivered: number }>): string[] {
  const v: string[] = [];
  const ids = new Set<string>();
  plan.sends.forEach((spec, index) => {
    const id = sendId(plan.seed, index, spec.fails);
    ids.add(id);
    const o = outcomes.get(id);
    const r = records.get(id) ?? { handled: 0, redelivered: 0 };
    if (r.handled > 1) v.push(`${id}: handed to a handler ${r.handled} times unflagged`);
    if (r.redelivered > 1) v.push(`${id}: redelivered ${r.redelivered} times`);
    if (o === undefined) return void v.push(`${id}: never settled`);
    if (o.kind === 'resolved') {
      if (spec.fails) v.push(`${id}: resolved though its handler throws`);
      else if (JSON.stringify(o.value) !== JSON.stringify({ n: index, sq: (index * index) % 1_000_003 })) v.push(`${id}: resolved with ${JSON.stringify(o.value)}`);
      if (r.handled + r.redelivered === 0) v.push(`${id}: acked but never handled`);
    } else if (o.error instanceof RemoteError) {
      if (!spec.fails || o.error.remoteCode !== 'E_TEST') v.push(`${id}: RemoteError ${o.error.remoteCode}`);
      if (r.handled + r.redelivered === 0) v.push(`${id}: error ack but never handled`);
    } else if (o.error instanceof AckTimeoutError) {
      if (spec.timeoutMs === undefined) v.push(`${id}: timed out with the long deadline`);
    } else {
      v.push(`${id}: rejected with ${describeError(o.error)}`);
    }
  });
  for (const id of records.keys()) if (!ids.has(id)) v.push(`${id}: handled but never sent`);
  return v;
}

/** Guarantee 9 across nodes: every stored publication once, in offset order, no gap (Redis never lost its history here). */
export function checkChannel(delivered: ReadonlyArray<{ k: number; offset: number }>, gaps: readonly unknown[], published: number, startOffset: number): string[] {
  const v: string[] = [];
  if (gaps.length > 0) v.push(`gaps: ${JSON.stringify(gaps).slice(0, 300)}`);
  if (delivered.length !== published) v.push(`${delivered.length} publications delivered of ${published} stored`);
  delivered.forEach((p, i) => {
    if (v.length < 20 && (p.k !== i + 1 || p.offset !== startOffset + i + 1)) v.push(`delivery #${i + 1}: k=${p.k} offset=${p.offset}, expected k=${i + 1} offset=${startOffset + i + 1}`);
  });
  return v;
}

export function formatNodeFailure(result: NodeRunResult): string {
  return [
    `multi-node chaos seed ${result.seed} failed (${result.violations.length} violation(s), ${result.durationMs} ms)`,
    `replay: CHAOS_MODE=multinode CHAOS_SEED=${result.seed} npx vitest run test/chaos-multinode.test.ts   (in tests/chaos)`,
    `plan: ${result.plan}`,
    ...result.violations.map((line) => `  - ${line}`),
  ].join('\n');
}

export type { Cluster };
