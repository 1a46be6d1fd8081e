import { afterEach, describe, expect, it } from 'vitest';
import { client, closeAll, startProxy, startServer } from '@lifeline/test-kit';

afterEach(closeAll);

describe('one-byte fragmentation', () => {
  it('handshake, messages, acks and pushes survive being split into single bytes', async () => {
    const server = await startServer({
      handler: (data, ctx) => {
        ctx.session.send({ echo: data }).catch(() => {}); // pending at shutdown rejects; not this test's subject
        return { got: data };
      },
    });
    const proxy = await startProxy(server.port);
    proxy.fragment(1);
    const c = client(proxy.url());
    await c.connect({ timeoutMs: 10_000 });
    const payloads = Array.from({ length: 10 }, (_, i) => ({ i, text: `héllo ✓ ${i}`.repeat(3) }));
    const results = await Promise.all(payloads.map((p) => c.send(p, { timeoutMs: 20_000 })));
    expect(results).toEqual(payloads.map((p) => ({ got: p })));
    const echoes = [];
    for (let i = 0; i < payloads.length; i++) echoes.push(await c.receive({ timeoutMs: 20_000 }));
    expect(echoes).toEqual(payloads.map((p) => ({ echo: p })));
  });
});
