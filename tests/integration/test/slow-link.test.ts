import { afterEach, describe, expect, it } from 'vitest';
import { client, closeAll, startProxy, startServer, until } from '@lifeline/test-kit';

afterEach(closeAll);

/**
 * Any whole message is a sign of life to the heartbeat, so no WebSocket message may take longer
 * than the heartbeat timeout on a link the product means to serve. CI found the other case: with
 * a backlog, the server joined up to 256 KiB of frames into one message; on a slow link it never
 * arrived whole before the timeout, the client reconnected, resubscribed, got the same backlog
 * as one message again, and made no progress at all.
 */
describe('a slow link with a backlog', () => {
  it('256 publications of 1 KiB through 60 kB/s with a 3 s heartbeat timeout: all arrive, in order, on one connection', async () => {
    const N = 256;
    const server = await startServer({ heartbeatIntervalMs: 250, heartbeatTimeoutMs: 10_000 });
    const proxy = await startProxy(server.port);
    const c = client(proxy.url(), { heartbeatIntervalMs: 250, heartbeatTimeoutMs: 3_000, connectTimeoutMs: 5_000 });
    await c.connect({ timeoutMs: 5_000 });
    let disconnects = 0;
    c.on('disconnect', () => disconnects++);
    const sub = c.subscribe('feed');
    const got: number[] = [];
    sub.on('publication', (_d, meta) => got.push(meta.offset));
    await sub.ready({ timeoutMs: 5_000 });

    // 64 KiB messages take ~1.1 s here; one of 256 KiB took ~4.4 s, past the timeout.
    proxy.throttle(60_000);
    const pad = 'x'.repeat(1_024);
    await Promise.all(Array.from({ length: N }, (_, i) => server.publish('feed', { n: i + 1, pad })));
    // ~270 kB at 60 kB/s is ~4.5 s; the deadline is for a stall, not for the pace.
    await until(sub, 'publication', () => got.length >= N, 60_000, `${N} publications through the slow link`);

    expect(got).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    expect(disconnects).toBe(0);
  }, 90_000);
});
