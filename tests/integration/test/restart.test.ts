import { afterEach, describe, expect, it } from 'vitest';
import { client, closeAll, gate, nextEvent, startProxy, startServer } from '@lifeline/test-kit';

afterEach(closeAll);

describe('guarantee 3: a server restart with the in-memory store', () => {
  it('reports session-lost with the unknown-outcome count and re-sends under the original ids', async () => {
    const stuck = gate();
    const heldByFirst = gate();
    let receivedByFirst = 0;
    const first = await startServer({
      // The first server never finishes: its messages end in an unknown state when it dies.
      handler: () => stuck.promise,
      plugins: [{ name: 'count', onReceive: (e) => !e.duplicate && ++receivedByFirst === 3 && heldByFirst.open() }],
    });
    const proxy = await startProxy(first.port);
    const c = client(proxy.url());
    await c.connect({ timeoutMs: 5_000 });

    const ids = ['order-a', 'order-b', 'order-c'];
    const results = ids.map((id, i) => c.send({ i }, { id, timeoutMs: 15_000 }));
    await heldByFirst.promise;

    const handledBySecond: string[] = [];
    const second = await startServer({
      handler: (data, ctx) => {
        handledBySecond.push(ctx.id);
        return { by: 'second', i: (data as { i: number }).i };
      },
    });
    const lost = nextEvent<{ unknown: number; ids: string[] }>(c, 'session-lost', 10_000);
    proxy.setTarget({ port: second.port });
    await first.close({ timeoutMs: 50 });
    proxy.cutAll();

    const info = await lost;
    expect(info.unknown).toBe(3);
    expect(info.ids).toEqual(ids);
    expect(await Promise.all(results)).toEqual(ids.map((_, i) => ({ by: 'second', i })));
    expect(handledBySecond).toEqual(ids);
    stuck.open();
  });
});
