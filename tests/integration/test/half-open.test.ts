import { afterEach, describe, expect, it } from 'vitest';
import { CloseCode } from '@lifeline/sdk';
import type { Session } from '@lifeline/server';
import { client, closeAll, nextEvent, startProxy, startServer } from '@lifeline/test-kit';

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
    const closed = nextEvent<{ code: number }>(c, 'disconnect', 5_000);
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

  it('a loop blocked past both heartbeat timeouts does not drop a live link', async () => {
    const server = await startServer({ heartbeatIntervalMs: 50, heartbeatTimeoutMs: 200, handler: (data) => data });
    const detaches: unknown[] = [];
    const sessionP = nextEvent<Session>(server, 'session');
    server.on('session', (session) => session.on('detach', (e) => detaches.push(e)));
    const c = client(`ws://127.0.0.1:${server.port}`, { heartbeatIntervalMs: 50, heartbeatTimeoutMs: 200 });
    const disconnects: unknown[] = [];
    c.on('disconnect', (info) => disconnects.push(info));
    await c.connect({ timeoutMs: 5_000 });
    const session = await sessionP;
    expect(await c.send('before', { timeoutMs: 5_000 })).toBe('before');

    // Each side writes to the other, then this process (both sides) blocks for three timeouts
    // before reading a byte. When it unblocks every heartbeat timer is due before the sockets are
    // read; each side's verdict waits one turn of I/O, in which it reads what the other wrote.
    // The frames are written before the block (the writers flush at the end of the turn, which the
    // awaits below let happen), so they are in the sockets however slowly the kernel delivers.
    const pushed = nextEvent<unknown>(c, 'message');
    const after = c.send('after', { timeoutMs: 5_000 });
    const acked = session.send('push');
    await Promise.resolve();
    await Promise.resolve();
    const blockedUntil = performance.now() + 600;
    while (performance.now() < blockedUntil);
    expect(await after).toBe('after');
    expect(await pushed).toBe('push');
    await acked;
    expect(disconnects).toEqual([]);
    expect(detaches).toEqual([]);
  });
});
