import { afterEach, describe, expect, it } from 'vitest';
import { RawClient, closeAll, nextEvent, nextSession, startServer, urlOf } from '@lifeline/test-kit';
import { AbortError, AckTimeoutError, ClosedError, PayloadTooLargeError, QueueFullError, type LifelinePlugin } from '../src/index.js';

afterEach(closeAll);

describe('server → client messages', () => {
  it('session.send() writes a msg and resolves on the cumulative cack', async () => {
    const server = await startServer();
    const sessionP = nextSession(server);
    const { client } = await RawClient.connect(urlOf(server));
    const session = await sessionP;
    let settled = 0;
    const sends = [session.send({ a: 1 }, { id: 'first' }), session.send('two'), session.send(null)].map((p) => p.then(() => settled++));
    const m1 = await client.next();
    expect(m1).toEqual({ t: 'msg', seq: 1, id: 'first', ts: expect.any(Number), d: { a: 1 } });
    const m2 = await client.next();
    const m3 = await client.next();
    expect([m2.seq, m2.d, m3.seq, m3.d]).toEqual([2, 'two', 3, null]);
    client.send({ t: 'cack', seq: 2 });
    await Promise.all(sends.slice(0, 2));
    expect(settled).toBe(2);
    client.send({ t: 'cack', seq: 3 });
    await Promise.all(sends);
    expect(settled).toBe(3);
  });

  it('never has more unacknowledged messages on the wire than hello.win', async () => {
    const server = await startServer();
    const sessionP = nextSession(server);
    const { client } = await RawClient.connect(urlOf(server), { win: 2 });
    const session = await sessionP;
    const sends = [1, 2, 3, 4, 5].map((n) => session.send(n));
    expect((await client.next()).seq).toBe(1);
    expect((await client.next()).seq).toBe(2);
    // Round trip: anything the server wrote before the pong has arrived by now.
    client.send({ t: 'ping', ts: 1 });
    await client.next((f) => f.t === 'pong');
    expect(client.pending.filter((f) => f.t === 'msg')).toEqual([]);
    client.send({ t: 'cack', seq: 1 });
    expect((await client.next()).seq).toBe(3);
    client.send({ t: 'cack', seq: 5 }); // more than was sent: capped at 3
    expect((await client.next()).seq).toBe(4);
    expect((await client.next()).seq).toBe(5);
    client.send({ t: 'cack', seq: 5 });
    await Promise.all(sends);
  });

  it('a cack before any push settles nothing: the first push made afterwards is seq 1, within hello.win', async () => {
    // The outbound part is made at the first session.send(); a cack that comes first finds none.
    const server = await startServer();
    const sessionP = nextSession(server);
    const { client } = await RawClient.connect(urlOf(server), { win: 1 });
    const session = await sessionP;
    client.send({ t: 'cack', seq: 3 });
    client.send({ t: 'ping', ts: 1 });
    await client.next((f) => f.t === 'pong');
    const sends = [session.send('a'), session.send('b')];
    expect(await client.next()).toMatchObject({ t: 'msg', seq: 1, d: 'a' });
    client.send({ t: 'ping', ts: 2 });
    await client.next((f) => f.t === 'pong');
    expect(client.pending.filter((f) => f.t === 'msg')).toEqual([]);
    client.send({ t: 'cack', seq: 1 });
    expect(await client.next()).toMatchObject({ t: 'msg', seq: 2, d: 'b' });
    client.send({ t: 'cack', seq: 2 });
    await Promise.all(sends);
    expect(session.connected).toBe(true);
  });

  it("overflow 'reject': a full queue rejects with QueueFullError", async () => {
    const drops: string[] = [];
    const plugin: LifelinePlugin = { name: 'drops', onDrop: (e) => drops.push(e.reason) };
    const server = await startServer({ maxQueued: 2, overflow: 'reject', plugins: [plugin] });
    const sessionP = nextSession(server);
    const { client } = await RawClient.connect(urlOf(server), { win: 1 });
    const session = await sessionP;
    const ok = [session.send(1), session.send(2), session.send(3)]; // 1 in flight, 2 and 3 queued
    await expect(session.send(4)).rejects.toBeInstanceOf(QueueFullError);
    expect(drops).toEqual(['queue-full']);
    for (let seq = 1; seq <= 3; seq++) {
      expect((await client.next()).seq).toBe(seq);
      client.send({ t: 'cack', seq });
    }
    await Promise.all(ok);
  });

  it("overflow 'wait': send() waits for room, within its deadline; the waiting list is bounded by maxQueued too", async () => {
    const server = await startServer({ maxQueued: { messages: 2 } });
    const sessionP = nextSession(server);
    const { client } = await RawClient.connect(urlOf(server), { win: 1 });
    const session = await sessionP;
    const first = session.send(1); // in flight
    const queued = [session.send(2), session.send(3)];
    const fourth = session.send(4); // waits for room
    const late = await session.send('late', { timeoutMs: 30 }).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(AckTimeoutError);
    expect((late as AckTimeoutError).maybeDelivered).toBe(false);
    const fifth = session.send(5); // waits: the list holds 4 and 5, as many as maxQueued
    expect(await session.send(6).catch((e: unknown) => e)).toBeInstanceOf(QueueFullError);
    for (let seq = 1; seq <= 5; seq++) {
      const m = await client.next();
      expect(m.d).toBe(seq);
      client.send({ t: 'cack', seq: m.seq });
    }
    await Promise.all([first, ...queued, fourth, fifth]);
  });

  it('rejects with AckTimeoutError past the deadline; maybeDelivered says whether it was written', async () => {
    const fails: Array<[string, boolean]> = [];
    const server = await startServer({ plugins: [{ name: 'fails', onFail: (e) => fails.push([e.code, e.maybeDelivered]) }] });
    const sessionP = nextSession(server);
    const { client } = await RawClient.connect(urlOf(server), { win: 1 });
    const session = await sessionP;
    const sent = session.send('on the wire', { timeoutMs: 50 }).catch((e: unknown) => e);
    const queued = session.send('never left', { timeoutMs: 50 }).catch((e: unknown) => e);
    expect((await client.next()).d).toBe('on the wire');
    const [a, b] = (await Promise.all([sent, queued])) as AckTimeoutError[];
    expect(a).toBeInstanceOf(AckTimeoutError);
    expect(a?.maybeDelivered).toBe(true);
    expect(b).toBeInstanceOf(AckTimeoutError);
    expect(b?.maybeDelivered).toBe(false);
    expect(fails).toEqual([
      ['ERR_ACK_TIMEOUT', true],
      ['ERR_ACK_TIMEOUT', false],
    ]);
    // The expired message still occupies the client's window until the client acks it; its
    // seq is left behind and the next message takes a new one.
    const next = session.send('after');
    client.send({ t: 'cack', seq: 1 });
    const m = await client.next();
    expect([m.seq, m.d]).toEqual([2, 'after']);
    client.send({ t: 'cack', seq: 2 });
    await next;
  });

  it('rejects with AbortError when the signal fires', async () => {
    const server = await startServer();
    const sessionP = nextSession(server);
    const { client } = await RawClient.connect(urlOf(server));
    const session = await sessionP;
    const ac = new AbortController();
    const pending = session.send('x', { signal: ac.signal });
    await client.next();
    ac.abort(new Error('user left'));
    const error = (await pending.catch((e: unknown) => e)) as AbortError;
    expect(error).toBeInstanceOf(AbortError);
    expect(error.maybeDelivered).toBe(true);
    await expect(session.send('y', { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
  });

  it('rejects (never throws) for data JSON cannot encode, bad ids and bad deadlines', async () => {
    const server = await startServer({ maxQueued: { bytes: 100 } });
    const sessionP = nextSession(server);
    await RawClient.connect(urlOf(server));
    const session = await sessionP;
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(session.send(cyclic)).rejects.toBeInstanceOf(TypeError);
    await expect(session.send(1n)).rejects.toBeInstanceOf(TypeError);
    await expect(session.send(undefined)).rejects.toBeInstanceOf(TypeError);
    await expect(session.send(1, { id: '' })).rejects.toBeInstanceOf(TypeError);
    await expect(session.send(1, { timeoutMs: -1 })).rejects.toBeInstanceOf(TypeError);
    await expect(session.send('x'.repeat(200))).rejects.toBeInstanceOf(PayloadTooLargeError);
  });

  it('session.close() sends bye 4410, closes with 4410 and rejects pending sends', async () => {
    const server = await startServer();
    const sessionP = nextSession(server);
    const { client } = await RawClient.connect(urlOf(server));
    const session = await sessionP;
    const pending = session.send('unacked').catch((e: unknown) => e);
    await client.next();
    const closed = nextEvent(session as never, 'close');
    session.close('done here');
    expect(await client.next()).toEqual({ t: 'bye', code: 4410, reason: 'done here' });
    expect(await client.closedWith()).toBe(4410);
    expect(await closed).toEqual({ reason: 'closed' });
    const error = (await pending) as ClosedError;
    expect(error).toBeInstanceOf(ClosedError);
    expect(error.maybeDelivered).toBe(true);
    expect(error.closeCode).toBe(4410);
    await expect(session.send('after')).rejects.toBeInstanceOf(ClosedError);
    expect(server.sessions.size).toBe(0);
  });

  it('a fire-and-forget send() whose session ends is not an unhandled rejection', async () => {
    const server = await startServer();
    const sessionP = nextSession(server);
    await RawClient.connect(urlOf(server));
    const session = await sessionP;
    void session.send('nobody waits for me');
    const closed = nextEvent(session as never, 'close');
    session.close();
    await closed;
    void session.send('nor for me');
    // vitest fails the run on an unhandled rejection; give one a macrotask to surface.
    await new Promise((resolve) => setImmediate(resolve));
  });

  it('stops writing to a socket that does not drain, and resumes when it does', async () => {
    let transmitted = 0;
    const server = await startServer({
      maxQueued: { bytes: 128 * 1024 * 1024 },
      plugins: [{ name: 'count', onTransmit: () => void transmitted++ }],
    });
    const sessionP = nextSession(server);
    const { client } = await RawClient.connect(urlOf(server));
    const session = await sessionP;
    client.ws.pause(); // a slow reader
    const chunk = 'x'.repeat(256 * 1024);
    const count = 200; // 50 MiB: more than the kernel buffers plus the 4 MiB high-water mark
    const sends = Array.from({ length: count }, () => session.send(chunk, { timeoutMs: 20_000 }));
    // Everything above was written synchronously as far as the server would go.
    expect(transmitted).toBeGreaterThan(0);
    expect(transmitted).toBeLessThan(count);
    client.ws.resume();
    for (let seq = 1; seq <= count; seq++) {
      const m = await client.next((f) => f.t === 'msg', 10_000);
      client.send({ t: 'cack', seq: m.seq });
    }
    await Promise.all(sends);
    expect(transmitted).toBe(count);
  });

  it('coalesces sends made in one turn into one WebSocket message', async () => {
    const server = await startServer();
    const sessionP = nextSession(server);
    const { client } = await RawClient.connect(urlOf(server));
    const session = await sessionP;
    const before = client.messages.length;
    const sends = Array.from({ length: 50 }, (_, i) => session.send(i));
    for (let i = 0; i < 50; i++) await client.next();
    expect(client.messages.length - before).toBe(1);
    client.send({ t: 'cack', seq: 50 });
    await Promise.all(sends);
  });
});
