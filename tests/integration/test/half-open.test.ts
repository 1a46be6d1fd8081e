import { afterEach, describe, expect, it } from 'vitest';
import { CloseCode } from '@lifeline/sdk';
import { client, closeAll, next, startProxy, startServer } from './helpers.js';

afterEach(closeAll);

describe('guarantee 5: dead links are found', () => {
  it('a silent link is dropped within the heartbeat timeout, then everything is delivered', async () => {
    const handled: number[] = [];
    const server = await startServer({
      heartbeatIntervalMs: 1_000,
      heartbeatTimeoutMs: 10_000,
      handler: (data) => {
        handled.push((data as { n: number }).n);
        return (data as { n: number }).n;
      },
    });
    const proxy = await startProxy(server.port);
    const heartbeatTimeoutMs = 400;
    const c = client(proxy.url(), { heartbeatIntervalMs: 100, heartbeatTimeoutMs, connectTimeoutMs: 2_000 });
    await c.connect({ timeoutMs: 5_000 });
    expect(await c.send({ n: 0 }, { timeoutMs: 5_000 })).toBe(0);

    proxy.silence();
    const silentAt = performance.now();
    const closed = next<{ code: number }>(c, 'disconnect', 5_000);
    const pending = [1, 2, 3].map((n) => c.send({ n }, { timeoutMs: 10_000 }));
    const { code } = await closed;
    const detectedAfterMs = performance.now() - silentAt;
    expect(code).toBe(CloseCode.HeartbeatTimeout);
    // Loose bound: detection is within one timeout plus one heartbeat check, on a noisy machine.
    expect(detectedAfterMs).toBeLessThan(heartbeatTimeoutMs * 5);

    proxy.heal();
    proxy.cutAll(); // the silent links' byte streams are broken; make sure none lingers
    expect(await Promise.all(pending)).toEqual([1, 2, 3]);
    expect(handled).toEqual([0, 1, 2, 3]);
  });
});
