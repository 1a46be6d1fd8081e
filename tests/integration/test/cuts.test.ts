import { afterEach, describe, expect, it } from 'vitest';
import type { Session } from '@lifeline/server';
import { client, closeAll, startProxy, startServer, until } from '@lifeline/test-kit';

afterEach(closeAll);

const N = 5_000;
const CUT_EVERY = 300; // progress events (acks + deliveries) between cuts → up to 33 cuts
// Small windows keep batches small, so progress moves in steps well below CUT_EVERY.
const WINDOW = 64;

describe('guarantees 1–3 across connection cuts', () => {
  it(`${N} messages each way, cut at least 20 times: handled once, in order, every promise settled`, async () => {
    const handledIds = new Map<string, number>();
    const handledSeqs: number[] = [];
    const serverSends: Array<Promise<void>> = [];
    let session: Session | undefined;
    const server = await startServer({
      handler: (data, ctx) => {
        handledIds.set(ctx.id, (handledIds.get(ctx.id) ?? 0) + 1);
        handledSeqs.push(ctx.seq);
        return { n: (data as { n: number }).n * 2 };
      },
    });
    server.on('session', (s: Session) => {
      session = s;
      for (let k = 1; k <= N; k++) serverSends.push(s.send({ k }, { timeoutMs: 60_000 }));
    });
    const proxy = await startProxy(server.port);
    const c = client(proxy.url(), { ackTimeoutMs: 60_000, maxInFlight: WINDOW, maxBuffered: WINDOW });
    let progress = 0;
    let lastCut = 0;
    // Cut only a live link: a cut while reconnecting would not be a fault.
    const tick = () => {
      if (++progress - lastCut >= CUT_EVERY && c.state === 'open' && proxy.connections > 0) {
        lastCut = progress;
        proxy.cutAll();
      }
    };
    const received: number[] = [];
    c.on('message', (data) => {
      received.push((data as { k: number }).k);
      tick();
    });
    let lost = 0;
    c.on('session-lost', () => lost++);
    await c.connect({ timeoutMs: 5_000 });

    const results = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        c.send({ n: i }, { id: `m${i}` }).then((r) => {
          tick();
          return r;
        }),
      ),
    );
    await until(c, 'message', () => received.length >= N, 30_000);
    await Promise.all(serverSends);

    expect(lost).toBe(0);
    expect(proxy.cuts).toBeGreaterThanOrEqual(20);
    expect(results).toEqual(Array.from({ length: N }, (_, i) => ({ n: i * 2 })));
    expect(handledIds.size).toBe(N);
    expect([...handledIds.values()].every((calls) => calls === 1)).toBe(true);
    expect(handledSeqs).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    expect(received).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    expect(session).toBeDefined();
  });
});
