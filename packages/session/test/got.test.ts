import { describe, expect, it } from 'vitest';
import { GOT_EVERY } from '../src/outbox.js';
import { client, fakeServer, useFixtures } from './helpers.js';
import type { AnyFrame } from './fake-server.js';

useFixtures();

const N = 200;

/** The `got` frames the server received, with the highest seq it had acked when each arrived. */
function gots(frames: readonly AnyFrame[]): Array<{ seq: number; ackedBefore: number }> {
  const out: Array<{ seq: number; ackedBefore: number }> = [];
  let acked = 0;
  for (const f of frames) {
    if (f.t === 'msg') acked = Math.max(acked, f.seq as number);
    else if (f.t === 'got') out.push({ seq: f.seq as number, ackedBefore: acked });
  }
  return out;
}

describe('got: the client tells the server which answers it holds (issue 14)', () => {
  it(`one got per ${GOT_EVERY} answers, never past one it still awaits`, async () => {
    const server = await fakeServer({ got: true });
    const c = client({ url: server.url });
    await c.connect();
    const conn = await server.conn(1);
    const results = await Promise.all(Array.from({ length: N }, (_, i) => c.send(i)));
    expect(results).toHaveLength(N);
    // Every answer is in, so no got is due any more: the last one written is fewer than
    // GOT_EVERY below N. Where it lands depends on how the answers were split across turns
    // (one turn of all 200: a got at 200; turns ending at 150 and 200: only the got at 150).
    await server.until(() => (gots(conn.frames).at(-1)?.seq ?? 0) > N - GOT_EVERY);
    const sent = gots(conn.frames);
    // Taken at a flush, so answers read in one turn make one got: at least GOT_EVERY apart.
    for (let i = 1; i < sent.length; i++) expect(sent[i]!.seq - sent[i - 1]!.seq).toBeGreaterThanOrEqual(GOT_EVERY);
    // Each names only seqs the server had acked (the fake acks each msg as it reads it).
    for (const g of sent) expect(g.seq).toBeLessThanOrEqual(g.ackedBefore);
  });

  it('an unanswered message holds the mark below it, however many after it are answered', async () => {
    // Seq 100 is never answered (the handler leaves it unaccepted); the others are.
    const server = await fakeServer({ got: true, handler: (d) => (d === 99 ? undefined : { echo: d }) });
    const c = client({ url: server.url, ackTimeoutMs: 60_000 });
    await c.connect();
    const conn = await server.conn(1);
    const answered = Array.from({ length: N }, (_, i) => c.send(i));
    await Promise.all(answered.filter((_, i) => i !== 99));
    // One more round trip: any got due after the answers above has left before this message.
    await c.send('last');
    const sent = gots(conn.frames);
    expect(sent.length).toBeGreaterThan(0);
    for (const g of sent) expect(g.seq).toBeLessThan(100);
    void answered[99]!.catch(() => {});
  });

  it('sends no got to a server that does not offer it', async () => {
    const server = await fakeServer();
    const c = client({ url: server.url });
    await c.connect();
    const conn = await server.conn(1);
    await Promise.all(Array.from({ length: N }, (_, i) => c.send(i)));
    await c.send('last');
    expect(conn.frames.filter((f) => f.t === 'msg')).toHaveLength(N + 1);
    expect(gots(conn.frames)).toEqual([]);
  });
});
