import { afterEach, describe, expect, it } from 'vitest';
import { AbortError, AckTimeoutError, QueueFullError, TimeoutError } from '@lifeline/sdk';
import { client, closeAll, gate, startProxy, startServer } from '@lifeline/test-kit';

afterEach(closeAll);

describe('guarantee 4: nothing waits forever', () => {
  it('receive() rejects with TimeoutError after its timeout', async () => {
    const server = await startServer({ handler: () => null });
    const c = client(`ws://127.0.0.1:${server.port}`);
    await c.connect({ timeoutMs: 5_000 });
    await expect(c.receive({ timeoutMs: 50 })).rejects.toBeInstanceOf(TimeoutError);
  });

  it('receive() rejects with AbortError when its signal fires', async () => {
    const server = await startServer({ handler: () => null });
    const c = client(`ws://127.0.0.1:${server.port}`);
    await c.connect({ timeoutMs: 5_000 });
    const ac = new AbortController();
    const pending = c.receive({ timeoutMs: 10_000, signal: ac.signal });
    ac.abort(new Error('user went away'));
    await expect(pending).rejects.toBeInstanceOf(AbortError);
  });

  it('send() past its deadline: maybeDelivered is true when the message left the machine', async () => {
    const never = gate();
    const received: string[] = [];
    const server = await startServer({
      handler: (_data, ctx) => {
        received.push(ctx.id);
        return never.promise;
      },
    });
    const c = client(`ws://127.0.0.1:${server.port}`);
    await c.connect({ timeoutMs: 5_000 });
    const error = await c.send({ op: 'buy' }, { id: 'o1', timeoutMs: 200 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AckTimeoutError);
    expect((error as AckTimeoutError).maybeDelivered).toBe(true);
    expect(received).toEqual(['o1']);
    never.open();
  });

  it('send() past its deadline: maybeDelivered is false when it never left', async () => {
    const server = await startServer({ handler: () => null });
    const proxy = await startProxy(server.port);
    proxy.refuse();
    const c = client(proxy.url());
    void c.connect({ timeoutMs: 2_000 }).catch(() => {});
    const error = await c.send({ op: 'buy' }, { timeoutMs: 200 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AckTimeoutError);
    expect((error as AckTimeoutError).maybeDelivered).toBe(false);
  });

  it('send() with an aborted signal rejects with AbortError', async () => {
    const server = await startServer({ handler: () => new Promise(() => {}) });
    const c = client(`ws://127.0.0.1:${server.port}`);
    await c.connect({ timeoutMs: 5_000 });
    const ac = new AbortController();
    const pending = c.send({ x: 1 }, { timeoutMs: 10_000, signal: ac.signal });
    ac.abort();
    await expect(pending).rejects.toBeInstanceOf(AbortError);
  });
});

describe('guarantee 6: bounded memory and backpressure', () => {
  it('maxInFlight is never exceeded, as observed at the server', async () => {
    const maxInFlight = 8;
    let maxReceivedSeq = 0;
    let worst = 0;
    const server = await startServer({
      plugins: [
        {
          name: 'observe',
          onReceive: (e) => {
            if (!e.duplicate) maxReceivedSeq = Math.max(maxReceivedSeq, e.seq);
          },
        },
      ],
      handler: async (_data, ctx) => {
        // Messages the server holds unanswered while this one runs: all acks below ctx.seq are sent.
        worst = Math.max(worst, maxReceivedSeq - (ctx.seq - 1));
        await new Promise((r) => setImmediate(r));
        return ctx.seq;
      },
    });
    const c = client(`ws://127.0.0.1:${server.port}`, { maxInFlight });
    await c.connect({ timeoutMs: 5_000 });
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => c.send(i, { timeoutMs: 20_000 })));
    expect(results).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(worst).toBeLessThanOrEqual(maxInFlight);
    // The window was (nearly) full, so the bound was really tested. The server starts a handler
    // before the rest of its batch is counted, so it can see one fewer than the client holds.
    expect(worst).toBeGreaterThanOrEqual(maxInFlight - 1);
  });

  it("a full queue with overflow 'reject' rejects with QueueFullError", async () => {
    const server = await startServer({ handler: (d) => d });
    const c = client(`ws://127.0.0.1:${server.port}`, { maxQueued: 5, overflow: 'reject' });
    const queued = Array.from({ length: 5 }, (_, i) => c.send(i, { timeoutMs: 10_000 }));
    await expect(c.send(5, { timeoutMs: 10_000 })).rejects.toBeInstanceOf(QueueFullError);
    await c.connect({ timeoutMs: 5_000 });
    expect(await Promise.all(queued)).toEqual([0, 1, 2, 3, 4]);
  });

  it("a full queue with overflow 'wait' makes send() wait for room, then delivers", async () => {
    const server = await startServer({ handler: (d) => d });
    const c = client(`ws://127.0.0.1:${server.port}`, { maxQueued: 5, overflow: 'wait' });
    const sends = Array.from({ length: 12 }, (_, i) => c.send(i, { timeoutMs: 10_000 }));
    await c.connect({ timeoutMs: 5_000 });
    expect(await Promise.all(sends)).toEqual(Array.from({ length: 12 }, (_, i) => i));
  });

  it("overflow 'wait' still honours the deadline, and the message was never sent", async () => {
    const server = await startServer({ handler: (d) => d });
    const c = client(`ws://127.0.0.1:${server.port}`, { maxQueued: 1, overflow: 'wait' });
    const first = c.send(0, { timeoutMs: 10_000 });
    const error = await c.send(1, { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AckTimeoutError);
    expect((error as AckTimeoutError).maybeDelivered).toBe(false);
    await c.connect({ timeoutMs: 5_000 });
    expect(await first).toBe(0);
  });
});
