import { afterEach, describe, expect, it } from 'vitest';
import { REDIS_URL, client, closeAll, poll, redisAdmin, startCluster, testPrefix, within, type Cluster, type LifelineNode } from '@lifeline/test-kit';
import { Publisher, WindowedSender, checkRecords, watch, wrongOutcomes, wrongPublications } from './load.js';

// Guarantee 10 across processes (docs/guarantees.md): three Lifeline nodes, each a child process
// on redisEngine, behind a round-robin TCP balancer with no stickiness; a client sending 3,000
// messages (100 outstanding) and a subscriber, both through the balancer; a 4th node, not behind
// the balancer, publishing. Nodes die or restart under them.

afterEach(closeAll);

const CHANNEL = 'mn:feed';
const MESSAGES = 3_000;
const WINDOW = 100;
const PUBLICATIONS = 300;

async function setup() {
  const admin = await redisAdmin();
  const prefix = testPrefix(admin, 'llmn');
  const cluster = await startCluster(3, { redisUrl: REDIS_URL, keyPrefix: prefix, recordUrl: REDIS_URL, recordPrefix: `${prefix}test:`, handlerDelayMs: 1 }, admin);
  const publisherNode = await cluster.add(false);
  // The sender connects first: round robin puts it on n1, the subscriber on n2.
  const sender = client(cluster.balancer.url(), { ackTimeoutMs: 60_000 });
  const lost: unknown[] = [];
  sender.on('session-lost', (info) => lost.push(info));
  await sender.connect({ timeoutMs: 10_000 });
  const subscriber = client(cluster.balancer.url());
  await subscriber.connect({ timeoutMs: 10_000 });
  const sub = subscriber.subscribe(CHANNEL);
  const seen = watch(sub);
  await sub.ready({ timeoutMs: 10_000 });
  return { admin, cluster, publisherNode, sender, subscriber, sub, seen, lost };
}

/** The checks every test here ends with. */
async function verify(s: Awaited<ReturnType<typeof setup>>, load: WindowedSender, publisher: Publisher) {
  await within(load.done, 'every send to settle', 60_000);
  await within(publisher.done, 'every publication to be stored', 30_000);
  expect(wrongOutcomes(load)).toEqual([]);
  const sent = new Set(Array.from({ length: load.count }, (_, n) => load.idOf(n)));
  const records = await checkRecords(s.cluster, sent, sent);
  expect(records.violations).toEqual([]);
  await poll(() => s.seen.pubs.length >= PUBLICATIONS || s.seen.gaps.length > 0, `the subscriber to see ${PUBLICATIONS} publications (has ${s.seen.pubs.length})`, 20_000, 20);
  expect(wrongPublications(s.seen, PUBLICATIONS)).toEqual([]);
  expect(s.lost).toEqual([]);
  expect(s.cluster.crashes()).toEqual([]);
  return records;
}

function progress(load: WindowedSender, n: number): Promise<void> {
  return poll(() => load.acked >= n, `${n} sends acked (have ${load.acked})`, 30_000, 5);
}

describe('nodes die under load (guarantee 10)', () => {
  it('SIGKILL two nodes one after the other mid-stream, replacements started: every send resolves with its result, each id handled once (plus at most one flagged redelivery), the subscriber gets every publication once in order', async () => {
    const s = await setup();
    const load = new WindowedSender(s.sender, MESSAGES, WINDOW, 'k');
    const publisher = new Publisher(() => s.publisherNode, CHANNEL, PUBLICATIONS, 5);

    await progress(load, 1_000);
    // The oldest connection through the balancer is the sender's (it connected first).
    const first = s.cluster.nodeOf(0) as LifelineNode;
    await s.cluster.killAndReplace(first);
    await progress(load, 2_000);
    // Now the oldest is the subscriber's, which the first kill did not touch.
    const second = s.cluster.nodeOf(0) as LifelineNode;
    expect(second).toBeDefined();
    await s.cluster.killAndReplace(second);

    const records = await verify(s, load, publisher);
    console.log(`kills: ${first.name}, ${second.name}; ${records.handledIds} ids handled, ${records.redelivered} flagged redelivered; ${s.cluster.balancer.accepted} connections through the balancer`);
  });

  it('a rolling restart of every node under load (SIGTERM → server.close(), replacement, next): the same checks', async () => {
    const s = await setup();
    const load = new WindowedSender(s.sender, MESSAGES, WINDOW, 'r');
    const publisher = new Publisher(() => s.publisherNode, CHANNEL, PUBLICATIONS, 5);
    const originals = [...s.cluster.nodes];
    const codes: Array<number | null> = [];
    for (const [i, node] of originals.entries()) {
      await progress(load, (i + 1) * 700);
      const { code } = await s.cluster.restart(node);
      codes.push(code);
    }
    expect(codes).toEqual([0, 0, 0]);
    const records = await verify(s, load, publisher);
    expect(records.redelivered).toBe(0);
    console.log(`rolling restart: ${records.handledIds} ids handled, ${s.cluster.balancer.accepted} connections through the balancer`);
  });
});
