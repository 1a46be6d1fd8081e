import { describe, expect, it, vi } from 'vitest';
import { AckTimeoutError, PayloadTooLargeError, QueueFullError, RemoteError, ResultEvictedError, type LifelinePlugin } from '@lifeline/protocol';
import { MAX_PAYLOAD_DEPTH } from '@lifeline/protocol/internal';
import { settle } from '@lifeline/test-kit';
import { client, fakeServer, useFixtures } from './helpers.js';

useFixtures();

describe('send()', () => {
  it("resolves with the server handler's result", async () => {
    const server = await fakeServer({ handler: (d) => ({ ok: true, got: d }) });
    const c = client({ url: server.url });
    await c.connect();
    await expect(c.send({ op: 'buy', qty: 1 })).resolves.toEqual({ ok: true, got: { op: 'buy', qty: 1 } });
  });

  it('queues before connect() and sends once connected', async () => {
    const server = await fakeServer();
    const c = client({ url: server.url });
    const result = c.send('early');
    expect(c.state).toBe('idle');
    await c.connect();
    await expect(result).resolves.toEqual({ echo: 'early' });
  });

  it('rejects with RemoteError when the handler threw', async () => {
    const server = await fakeServer({
      handler: (d, f, conn) => {
        conn.send({ t: 'ack', seq: f.seq as number, e: { code: 'E_FUNDS', message: 'insufficient funds' } });
        return undefined;
      },
    });
    const c = client({ url: server.url });
    await c.connect();
    const error = (await settle(c.send({ op: 'buy' }))) as { ok: false; error: RemoteError };
    expect(error.error).toBeInstanceOf(RemoteError);
    expect(error.error.code).toBe('ERR_REMOTE');
    expect(error.error.remoteCode).toBe('E_FUNDS');
    expect(error.error.message).toBe('insufficient funds');
  });

  it('rejects with ResultEvictedError, not a handler error, when a retransmission was processed and its result evicted', async () => {
    const server = await fakeServer({ handler: false });
    const acked: Array<string | undefined> = [];
    const c = client({ url: server.url, plugins: [{ name: 'spy', onAck: (e) => acked.push(e.errorCode) }] });
    await c.connect();
    const order = settle(c.send({ op: 'buy' }, { id: 'order-1' }));
    await server.until(() => server.msgs.length === 1);
    // The server processed seq 1 and its ack was lost with the connection.
    const first = await server.conn(1);
    first.session.accepted = 1;
    first.socket.terminate();
    const second = await server.conn(2);
    expect(second.hello.resume).toMatchObject({ sid: first.session.sid });
    // The client retransmits it (welcome.seq = 1); the result has left the server's cache.
    await server.until(() => server.msgs.length === 2);
    expect(server.msgs[1]).toMatchObject({ seq: 1, id: 'order-1' });
    second.send({ t: 'ack', seq: 1, e: { code: 'ERR_RESULT_EVICTED', message: 'processed earlier; result no longer cached' } });
    const outcome = (await order) as { ok: false; error: ResultEvictedError };
    expect(outcome.ok).toBe(false);
    expect(outcome.error).toBeInstanceOf(ResultEvictedError);
    expect(outcome.error).toBeInstanceOf(RemoteError); // code written for RemoteError still catches it
    expect(outcome.error.code).toBe('ERR_RESULT_EVICTED');
    expect(outcome.error.remoteCode).toBe('ERR_RESULT_EVICTED');
    expect(outcome.error.message).toBe('processed earlier; result no longer cached');
    expect(acked).toEqual(['ERR_RESULT_EVICTED']);
    // A handler's own error code stays a plain RemoteError.
    const next = settle(c.send('x'));
    await server.until(() => server.msgs.length === 3);
    second.send({ t: 'ack', seq: 2, e: { code: 'E_FUNDS', message: 'no' } });
    const plain = (await next) as { ok: false; error: RemoteError };
    expect(plain.error).toBeInstanceOf(RemoteError);
    expect(plain.error).not.toBeInstanceOf(ResultEvictedError);
    expect(plain.error.code).toBe('ERR_REMOTE');
  });

  it('resolves seq, seq+1, … from one acks frame', async () => {
    const server = await fakeServer({ handler: false });
    const c = client({ url: server.url });
    await c.connect();
    const results = [c.send('a'), c.send('b'), c.send('c')];
    await server.until(() => server.msgs.length === 3);
    (await server.conn(1)).send({ t: 'acks', seq: 1, r: ['A', 'B', 'C'] });
    await expect(Promise.all(results)).resolves.toEqual(['A', 'B', 'C']);
  });

  it('numbers messages 1, 2, 3 … in send order, each with a unique id, and ignores duplicate acks', async () => {
    const server = await fakeServer({
      handler: (d, f, conn) => {
        conn.send({ t: 'ack', seq: f.seq as number, r: d as number });
        conn.send({ t: 'ack', seq: f.seq as number, r: -1 }); // a duplicate: ignored
        return undefined;
      },
    });
    const c = client({ url: server.url });
    await c.connect();
    const sends = Array.from({ length: 100 }, (_, i) => c.send(i));
    expect(await Promise.all(sends)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(server.msgs.map((m) => m.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(server.msgs.map((m) => m.d)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(new Set(server.msgs.map((m) => m.id)).size).toBe(100);
  });

  it('coalesces the sends of one tick into one WebSocket message', async () => {
    const server = await fakeServer();
    const c = client({ url: server.url });
    await c.connect();
    const conn = await server.conn(1);
    const before = conn.raw.length;
    const sends = Array.from({ length: 50 }, (_, i) => c.send({ i }));
    await Promise.all(sends);
    const batches = conn.raw.slice(before).filter((text) => text.includes('"t":"msg"'));
    expect(batches).toHaveLength(1);
    expect(JSON.parse(batches[0] as string)).toHaveLength(50);
  });

  it('uses the caller id when given, and sends the payload encoded once', async () => {
    const server = await fakeServer();
    const c = client({ url: server.url });
    await c.connect();
    await c.send({ x: 1 }, { id: 'order-42' });
    expect(server.msgs[0]).toMatchObject({ t: 'msg', seq: 1, id: 'order-42', d: { x: 1 } });
    expect(typeof server.msgs[0]?.ts).toBe('number');
  });

  it('rejects non-serialisable data with a TypeError', async () => {
    const c = client({ url: 'ws://127.0.0.1:9' });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(c.send(cyclic)).rejects.toBeInstanceOf(TypeError);
    await expect(c.send(undefined)).rejects.toBeInstanceOf(TypeError);
    await expect(c.send(10n)).rejects.toBeInstanceOf(TypeError);
    await expect(c.send(1, { id: '' })).rejects.toBeInstanceOf(TypeError);
  });

  it('rejects a payload nested deeper than 63 levels with a TypeError before queueing it; 63 levels go', async () => {
    const nested = (levels: number): unknown => {
      let v: unknown = 0;
      for (let i = 0; i < levels; i++) v = i % 2 === 0 ? [v] : { k: v };
      return v;
    };
    const server = await fakeServer({ handler: () => 'ok' });
    const c = client({ url: server.url });
    await c.connect();
    // The server's decoder takes 64 levels per frame, the msg object being one: a deeper payload
    // would close the link with 4400, and the retransmission after every reconnect would again.
    await expect(c.send(nested(MAX_PAYLOAD_DEPTH + 1))).rejects.toThrow(/at most 63 levels/);
    expect(c.pending).toBe(0);
    await expect(c.send(nested(MAX_PAYLOAD_DEPTH))).resolves.toBe('ok');
    expect(server.msgs).toHaveLength(1);
  });

  it('AckTimeoutError with maybeDelivered: false when the message never left (never connected)', async () => {
    const c = client({ url: 'ws://127.0.0.1:9' });
    const error = await c.send('x', { timeoutMs: 40 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AckTimeoutError);
    expect((error as AckTimeoutError).maybeDelivered).toBe(false);
    expect((error as AckTimeoutError).code).toBe('ERR_ACK_TIMEOUT');
    expect(c.pending).toBe(0);
  });

  it('AckTimeoutError with maybeDelivered: true when the server never acks', async () => {
    const server = await fakeServer({ handler: () => undefined });
    const c = client({ url: server.url, ackTimeoutMs: 60 });
    await c.connect();
    const error = await c.send('x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AckTimeoutError);
    expect((error as AckTimeoutError).maybeDelivered).toBe(true);
    // After a stalled loop the deadline can fire before the server has read the message.
    await server.until(() => server.msgs.length === 1);
  });

  it('arms no timer per message: one deadline timer for a thousand sends', async () => {
    const c = client({ url: 'ws://127.0.0.1:9' });
    const spy = vi.spyOn(globalThis, 'setTimeout');
    try {
      const sends = Array.from({ length: 1_000 }, (_, i) => c.send(i, { timeoutMs: 5_000 + (i % 7) }).catch(() => {}));
      expect(spy.mock.calls.length).toBeLessThanOrEqual(2);
      await c.close();
      await Promise.all(sends);
    } finally {
      spy.mockRestore();
    }
  });

  it('rejects with AbortError (maybeDelivered set) when the signal aborts', async () => {
    const server = await fakeServer({ handler: () => undefined });
    const c = client({ url: server.url });
    await c.connect();
    const ctl = new AbortController();
    const sent = c.send('x', { signal: ctl.signal });
    await server.until(() => server.msgs.length === 1);
    ctl.abort();
    await expect(sent).rejects.toMatchObject({ name: 'AbortError', code: 'ERR_ABORTED', maybeDelivered: true });
    await expect(c.send('y', { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ERR_ABORTED', maybeDelivered: false });
  });

  it("overflow 'reject': QueueFullError once maxQueued messages wait", async () => {
    const c = client({ url: 'ws://127.0.0.1:9', maxQueued: 2, overflow: 'reject' });
    const a = c.send(1, { timeoutMs: 50 });
    const b = c.send(2, { timeoutMs: 50 });
    const error = await c.send(3).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueueFullError);
    expect((error as QueueFullError).code).toBe('ERR_QUEUE_FULL');
    await Promise.allSettled([a, b]);
  });

  it("overflow 'reject' bounds bytes too", async () => {
    const c = client({ url: 'ws://127.0.0.1:9', maxQueued: { messages: 100, bytes: 25 }, overflow: 'reject' });
    const a = c.send('x'.repeat(20), { timeoutMs: 50 });
    await expect(c.send('y'.repeat(20))).rejects.toBeInstanceOf(QueueFullError);
    await Promise.allSettled([a]);
  });

  it("overflow 'wait': send() waits for room in FIFO order, within its deadline", async () => {
    const server = await fakeServer();
    const c = client({ url: server.url, maxQueued: 1, overflow: 'wait' });
    const a = c.send('a');
    const b = c.send('b');
    const late = c.send('late', { timeoutMs: 30 });
    const expired = await late.catch((e: unknown) => e);
    expect(expired).toBeInstanceOf(AckTimeoutError);
    expect((expired as AckTimeoutError).maybeDelivered).toBe(false);
    const d = c.send('d');
    await c.connect();
    await expect(Promise.all([a, b, d])).resolves.toEqual([{ echo: 'a' }, { echo: 'b' }, { echo: 'd' }]);
    expect(server.msgs.map((m) => m.d)).toEqual(['a', 'b', 'd']);
    expect(server.msgs.map((m) => m.seq)).toEqual([1, 2, 3]); // the abandoned one took no seq
  });

  it('keeps at most maxInFlight unacked messages on the wire', async () => {
    const server = await fakeServer({ handler: false });
    const c = client({ url: server.url, maxInFlight: 3 });
    await c.connect();
    const sends = Array.from({ length: 10 }, (_, i) => c.send(i));
    await server.until(() => server.msgs.length === 3);
    const conn = await server.conn(1);
    // A ping/pong round trip as a barrier: anything the client wrote before the pong has arrived.
    conn.send({ t: 'ping', ts: 1 });
    await server.until(() => conn.frames.some((f) => f.t === 'pong'));
    expect(server.msgs).toHaveLength(3);
    conn.send({ t: 'ack', seq: 1, r: 'one' });
    await server.until(() => server.msgs.length === 4);
    expect(server.msgs[3]?.seq).toBe(4);
    conn.send({ t: 'acks', seq: 2, r: [2, 3, 4] });
    await server.until(() => server.msgs.length === 7);
    expect(await sends[0]).toBe('one');
    await c.close();
    await Promise.allSettled(sends);
  });

  it("uses min(maxInFlight, welcome.win) as the window", async () => {
    const server = await fakeServer({ handler: false, win: 2 });
    const c = client({ url: server.url, maxInFlight: 50 });
    await c.connect();
    const sends = Array.from({ length: 5 }, (_, i) => c.send(i));
    await server.until(() => server.msgs.length === 2);
    (await server.conn(1)).send({ t: 'ack', seq: 1, r: null });
    await server.until(() => server.msgs.length === 3);
    expect(server.msgs).toHaveLength(3);
    await c.close();
    await Promise.allSettled(sends);
  });

  it('PayloadTooLargeError, without sending, for a message larger than welcome.max', async () => {
    const server = await fakeServer({ max: 200 });
    const c = client({ url: server.url });
    const early = c.send('é'.repeat(150)); // queued before the limit is known: refused at transmit
    await c.connect();
    await expect(early).rejects.toBeInstanceOf(PayloadTooLargeError);
    const error = await c.send('x'.repeat(500)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect((error as PayloadTooLargeError).limit).toBe(200);
    await expect(c.send('small')).resolves.toEqual({ echo: 'small' });
    expect(server.msgs.map((m) => m.d)).toEqual(['small']);
  });

  it('calls plugin hooks: onSend, onTransmit, onAck, onFail', async () => {
    const server = await fakeServer();
    const calls: string[] = [];
    const plugin: LifelinePlugin = {
      name: 'spy',
      onSend: (e) => calls.push(`send:${e.id}`),
      onTransmit: (e) => calls.push(`transmit:${e.id}:${e.seq}:${e.retransmit}`),
      onAck: (e) => calls.push(`ack:${e.id}:${e.seq}`),
      onFail: (e) => calls.push(`fail:${e.id}:${e.code}`),
    };
    const c = client({ url: server.url, plugins: [plugin] });
    await c.connect();
    await c.send(1, { id: 'a' });
    await c.send(2, { id: 'b', signal: AbortSignal.abort() }).catch(() => {});
    expect(calls).toEqual(['send:a', 'transmit:a:1:false', 'ack:a:1', 'fail:b:ERR_ABORTED']);
  });
});
