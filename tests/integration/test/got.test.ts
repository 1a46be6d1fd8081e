import { afterEach, describe, expect, it } from 'vitest';
import type { Session } from '@lifeline/server';
import { client, closeAll, nextSession, startProxy, startServer } from '@lifeline/test-kit';

afterEach(closeAll);

/** Outcomes the session's result cache holds: internal, read here to check what `got` is for. */
function cached(session: Session): number {
  return (session as unknown as { inbound: { results: { size: number } } }).inbound.results.size;
}

describe('got: the result cache holds what the client has not confirmed (issue 14)', () => {
  it('after 2,000 answered sends the cache holds fewer than 64 outcomes, not the window', async () => {
    const server = await startServer({ handler: (d) => d });
    const proxy = await startProxy(server.port);
    const c = client(proxy.url());
    const session = nextSession(server);
    await c.connect({ timeoutMs: 5_000 });
    const s = await session;
    const n = 2_000;
    const results = await Promise.all(Array.from({ length: n }, (_, i) => c.send(i)));
    expect(results).toEqual(Array.from({ length: n }, (_, i) => i));
    // The got of the last answers leaves in the flush after them; one more round trip follows it.
    expect(await c.send('last')).toBe('last');
    expect(cached(s)).toBeLessThan(64);

    // After a cut, the session resumes and later answers still arrive once each.
    proxy.cutAll();
    const more = await Promise.all(Array.from({ length: 100 }, (_, i) => c.send(n + i, { timeoutMs: 10_000 })));
    expect(more).toEqual(Array.from({ length: 100 }, (_, i) => n + i));
    expect(cached(s)).toBeLessThanOrEqual(64 + 100);
  });
});
