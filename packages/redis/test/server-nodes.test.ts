import { describe, expect, it } from 'vitest';
import { RawClient, startServer, urlOf, type AnyFrame } from '@lifeline/test-kit';
import { fixturePerTest } from './kit.js';

// Two Lifeline servers ("nodes") in this process, each on its own redisEngine over one Redis: a
// subscriber on one node hears what the other publishes, through the server's channel code.

const f = fixturePerTest();

describe('createServer on redisEngine', () => {
  it('a subscriber on node B gets pub 1..N published on node A, once, in order, then replays them from B after a cursor', async () => {
    const a = await startServer({ engine: f().engine() });
    const b = await startServer({ engine: f().engine() });
    const { client } = await RawClient.connect(urlOf(b));
    client.send({ t: 'sub', ch: 'room' });
    const ok = await client.next((fr) => (fr.t === 'subok' || fr.t === 'suberr') && fr.ch === 'room');
    expect(ok).toMatchObject({ t: 'subok', offset: 0 });
    const N = 100;
    for (let i = 1; i <= N; i++) await a.publish('room', { i });
    const got: AnyFrame[] = [];
    while (got.length < N) got.push(await client.next((fr) => (fr.t === 'pub' || fr.t === 'gap') && fr.ch === 'room', 5_000));
    expect(got.map((fr) => fr.t)).toEqual(Array(N).fill('pub'));
    expect(got.map((fr) => fr.offset)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    expect(got.map((fr) => (fr.d as { i: number }).i)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    expect(new Set(got.map((fr) => fr.epoch))).toEqual(new Set([ok.epoch]));

    // A second client on B asks from a cursor: the history in Redis, written by A, is read on B.
    const { client: late } = await RawClient.connect(urlOf(b));
    late.send({ t: 'sub', ch: 'room', since: { offset: N - 5, epoch: ok.epoch } });
    const replay: AnyFrame[] = [];
    while (replay.length < 5) replay.push(await late.next((fr) => (fr.t === 'pub' || fr.t === 'gap') && fr.ch === 'room', 5_000));
    expect(replay.map((fr) => fr.offset)).toEqual([N - 4, N - 3, N - 2, N - 1, N]);
  });
});
