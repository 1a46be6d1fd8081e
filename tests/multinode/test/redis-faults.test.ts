import { afterEach, describe, expect, it } from 'vitest';
import { AckTimeoutError } from '@lifeline/sdk';
import { REDIS_URL, client, closeAll, poll, redisAdmin, startCluster, startProxy, startRedis, testPrefix, within } from '@lifeline/test-kit';
import { Publisher, WindowedSender, checkRecords, resultOf, watch, wrongOutcomes, wrongPublications } from './load.js';

// Guarantee 10 when Redis itself fails (docs/guarantees.md): three node processes on one Redis
// behind the balancer, a sender and a subscriber through it, a 4th node publishing.

afterEach(closeAll);

const CHANNEL = 'mn:feed';

describe('Redis fails under the nodes (guarantee 10)', () => {
  it('Redis silent for 1.5 s: sends wait or time out with maybeDelivered, nothing is acked during the silence, the flow resumes by itself, no node crashes', async () => {
    const admin = await redisAdmin();
    const prefix = testPrefix(admin, 'llmn');
    // The engine's Redis is reached through a proxy that can hold every byte; the record of
    // handled ids goes straight to Redis, so the test's view is never held.
    const redisProxy = await startProxy(6379);
    const cluster = await startCluster(
      3,
      { redisUrl: `redis://127.0.0.1:${redisProxy.port}`, keyPrefix: prefix, recordUrl: REDIS_URL, recordPrefix: `${prefix}test:`, commandTimeoutMs: 1_000 },
      admin,
    );
    const publisherNode = await cluster.add(false);
    const sender = client(cluster.balancer.url(), { ackTimeoutMs: 60_000 });
    const lost: unknown[] = [];
    sender.on('session-lost', (info) => lost.push(info));
    const t0 = Date.now();
    const events: string[] = [];
    sender.on('disconnect', (i) => events.push(`${Date.now() - t0} disconnect ${i.code}`));
    sender.on('resumed', (i) => events.push(`${Date.now() - t0} resumed ${JSON.stringify(i)}`));
    sender.on('state', (st) => events.push(`${Date.now() - t0} state ${st}`));
    await sender.connect({ timeoutMs: 10_000 });
    const subscriber = client(cluster.balancer.url());
    await subscriber.connect({ timeoutMs: 10_000 });
    const sub = subscriber.subscribe(CHANNEL);
    const seen = watch(sub);
    await sub.ready({ timeoutMs: 10_000 });

    const load = new WindowedSender(sender, 1_500, 50, 'q');
    const publisher = new Publisher(() => publisherNode, CHANNEL, 150, 10);
    const ackedAt = new Map<string, number>();
    const track = setInterval(() => {
      const now = Date.now();
      for (const [id, o] of load.outcomes) if (o.kind === 'resolved' && !ackedAt.has(id)) ackedAt.set(id, now);
    }, 5);
    try {
      await poll(() => load.acked >= 400, 'the first 400 acks', 30_000);
      redisProxy.hold();
      const heldAt = Date.now();
      // Short deadlines while Redis is silent: each one left the machine, so maybeDelivered.
      const short = Array.from({ length: 20 }, (_, i) =>
        sender.send({ n: 10_000 + i }, { id: `s-${i}`, timeoutMs: 500 }).then(
          (value) => ({ id: `s-${i}`, value }),
          (error: unknown) => ({ id: `s-${i}`, error }),
        ),
      );
      const shortOutcomes = await within(Promise.all(short), 'the short-deadline sends', 5_000);
      await poll(() => Date.now() - heldAt >= 1_500, 'the 1.5 s silence', 5_000, 20);
      const ackedBeforeRelease = load.acked;
      redisProxy.hold(false);
      const releasedAt = Date.now();

      for (const o of shortOutcomes) {
        expect(o, `${o.id} settled while Redis was silent`).toHaveProperty('error');
        const error = (o as { error: unknown }).error;
        expect(error).toBeInstanceOf(AckTimeoutError);
        expect((error as AckTimeoutError).maybeDelivered).toBe(true);
      }
      // Nothing acked that Redis did not record: no ack lands while it hears nothing (300 ms
      // after the hold began, for acks whose writes were already answered).
      const duringSilence = [...ackedAt].filter(([, at]) => at > heldAt + 300 && at < releasedAt).map(([id]) => id);
      expect(duringSilence).toEqual([]);

      await within(load.done, 'every send to settle after Redis answers again', 30_000).catch(async (error: unknown) => {
        // What the engine holds: a claim stuck on a live node stalls the session (it is ordered).
        const [, claimKeys] = await admin.scan('0', 'MATCH', `${prefix}s{*}:c`, 'COUNT', 10_000);
        const claims = await Promise.all(claimKeys.map(async (key) => `${key} ${JSON.stringify(await admin.hgetall(key)).slice(0, 500)} holder ${await admin.hget(key.replace(/:c$/, ':r'), 'holder')}`));
        const reports = cluster.all.map((node) => `${node.name} (${node.alive ? 'alive' : 'dead'}): ${node.reports.slice(-3).join(' | ')} ${node.log.slice(-300)}`);
        throw new Error(`${String(error)}; acked ${load.acked}, settled ${load.settled}, sender ${sender.state}, held at ${heldAt - t0}, events ${events.join(', ')}\n${reports.join('\n')}\nclaims: ${claims.join('\n')}`);
      });
      await within(publisher.done, 'every publication to be stored', 30_000);
      expect(load.acked).toBeGreaterThan(ackedBeforeRelease);
      expect(wrongOutcomes(load)).toEqual([]);
      const sent = new Set([...Array.from({ length: load.count }, (_, n) => load.idOf(n)), ...shortOutcomes.map((o) => o.id)]);
      const records = await checkRecords(cluster, sent, Array.from({ length: load.count }, (_, n) => load.idOf(n)));
      expect(records.violations).toEqual([]);
      expect(records.redelivered).toBe(0);
      await poll(() => seen.pubs.length >= 150, `the subscriber to see 150 publications (has ${seen.pubs.length})`, 20_000, 20);
      expect(wrongPublications(seen, 150)).toEqual([]);
      expect(lost).toEqual([]);
      expect(cluster.crashes()).toEqual([]);
      expect(cluster.all.every((node) => node.alive)).toBe(true);
      const engineErrors = cluster.all.reduce((n, node) => n + node.reports.filter((r) => r.startsWith('engine-error')).length, 0);
      console.log(`redis silent 1.5 s: ${load.acked} acked, ${load.acked - ackedBeforeRelease} after the silence; ${engineErrors} engine errors reported; ${cluster.balancer.accepted} connections through the balancer`);
    } finally {
      clearInterval(track);
    }
  });

  it('Redis restarted without persistence: the subscriber gets one gap, the client reports session-lost once, and both go on', async () => {
    const admin = await redisAdmin();
    const prefix = testPrefix(admin, 'llmn');
    const redis = await startRedis();
    const cluster = await startCluster(2, { redisUrl: redis.url, keyPrefix: prefix, recordUrl: REDIS_URL, recordPrefix: `${prefix}test:`, commandTimeoutMs: 1_000 }, admin);
    const publisherNode = await cluster.add(false);
    const sender = client(cluster.balancer.url(), { ackTimeoutMs: 30_000 });
    const lost: Array<{ unknown: number; ids: readonly string[] }> = [];
    sender.on('session-lost', (info) => lost.push(info));
    await sender.connect({ timeoutMs: 10_000 });
    const subscriber = client(cluster.balancer.url());
    await subscriber.connect({ timeoutMs: 10_000 });
    const sub = subscriber.subscribe(CHANNEL);
    const seen = watch(sub);
    const t0 = Date.now();
    const subEvents: string[] = [];
    subscriber.on('disconnect', (i) => subEvents.push(`${Date.now() - t0} disconnect ${i.code}`));
    subscriber.on('session-lost', () => subEvents.push(`${Date.now() - t0} session-lost`));
    subscriber.on('state', (st) => subEvents.push(`${Date.now() - t0} ${st}`));
    sub.on('gap', (g) => subEvents.push(`${Date.now() - t0} gap ${JSON.stringify(g)}`));
    sub.on('publication', (_d, m) => { if (m.offset <= 2) subEvents.push(`${Date.now() - t0} pub ${m.offset} ${m.epoch}`); });
    sub.on('error', (e) => subEvents.push(`${Date.now() - t0} sub error ${String(e)}`));
    await sub.ready({ timeoutMs: 10_000 });

    const before = new WindowedSender(sender, 200, 20, 'b');
    const p1 = new Publisher(() => publisherNode, CHANNEL, 50, 2, 'p1');
    await within(before.done, 'the sends before the restart', 30_000);
    await within(p1.done, 'the publications before the restart', 30_000);
    expect(wrongOutcomes(before)).toEqual([]);
    await poll(() => seen.pubs.length >= 50, 'the first 50 publications', 10_000, 10);
    const firstEpoch = seen.pubs[0]?.epoch;

    await redis.restart();
    // A deploy or a network blip after the crash makes every client reconnect; its session is
    // gone with Redis's memory.
    const sessionLost = new Promise<void>((resolve) => sender.once('session-lost', () => resolve()));
    cluster.balancer.cutAll();
    await within(sessionLost, "the sender's session-lost", 15_000);

    // Publications k = 51..100 go to the new history (offsets 1..50 of a new epoch).
    const p2 = new Publisher(() => publisherNode, CHANNEL, 50, 2, 'p2');
    const after = new WindowedSender(sender, 200, 20, 'a');
    await within(after.done, 'the sends after the restart', 30_000);
    await within(p2.done, 'the publications after the restart', 30_000);
    expect(wrongOutcomes(after)).toEqual([]);
    await poll(() => seen.pubs.length >= 100, `100 publications (has ${seen.pubs.length}, gaps ${JSON.stringify(seen.gaps)})`, 15_000, 10).catch((error: unknown) => {
      const reports = cluster.all.map((node) => `${node.name} (${node.alive ? 'alive' : 'dead'}): ${node.reports.slice(-3).join(' | ')}`);
      throw new Error(`${String(error)}\nsubscriber: ${subEvents.join(', ')}; position ${JSON.stringify(sub.position)}; p2 offsets ${JSON.stringify([...p2.offsets].slice(0, 3))}\n${reports.join('\n')}`);
    });

    expect(lost).toHaveLength(1);
    expect(lost[0]?.unknown).toBe(0);
    expect(seen.gaps).toHaveLength(1);
    expect(seen.gaps[0]?.reason).toBe('epoch');
    expect(seen.pubs.map((p) => p.k)).toEqual(Array.from({ length: 100 }, (_, i) => (i < 50 ? i + 1 : i - 49)));
    expect(seen.pubs.slice(50).map((p) => p.offset)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(seen.pubs[50]?.epoch).not.toBe(firstEpoch);
    const sent = new Set([...Array.from({ length: 200 }, (_, n) => before.idOf(n)), ...Array.from({ length: 200 }, (_, n) => after.idOf(n))]);
    const records = await checkRecords(cluster, sent, sent);
    expect(records.violations).toEqual([]);
    expect(cluster.crashes()).toEqual([]);
    // Results are the handler's, whichever node: spot-check one on each side of the restart.
    expect(before.outcomes.get('b-7')).toEqual({ kind: 'resolved', value: resultOf(7) });
    expect(after.outcomes.get('a-7')).toEqual({ kind: 'resolved', value: resultOf(7) });
  });
});
