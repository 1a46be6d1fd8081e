import { describe, expect, it } from 'vitest';
import { AbortError, ClosedError, ProtocolError, TimeoutError, type Json } from '@lifeline/protocol';
import { next, within } from '@lifeline/test-kit';
import type { MessageMeta } from '../src/index.js';
import { client, fakeServer, useFixtures } from './helpers.js';

useFixtures();

describe('receiving', () => {
  it("delivers server messages to 'message' listeners with meta, in order, and acks with one cack per tick", async () => {
    const server = await fakeServer();
    const c = client({ url: server.url });
    const got: Array<[Json, MessageMeta]> = [];
    c.on('message', (data, meta) => got.push([data, meta]));
    await c.connect();
    const conn = await server.conn(1);
    conn.push('a', 'b', 'c', 'd', 'e');
    await server.until(() => conn.session.cacked === 5);
    expect(got.map(([d]) => d)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(got[0]?.[1]).toMatchObject({ seq: 1, id: 's1' });
    expect(typeof got[0]?.[1].sentAt).toBe('number');
    expect(conn.frames.filter((f) => f.t === 'cack')).toEqual([{ t: 'cack', seq: 5 }]);
  });

  it('processes frames batched with the welcome, after applying it', async () => {
    const server = await fakeServer({
      onHello: (_hello, socket) => {
        const welcome = { t: 'welcome', v: 1, sid: 'b', token: 't', resumed: false, seq: 0, win: 8, hb: 15_000, max: 65_536 };
        socket.send(JSON.stringify([welcome, { t: 'msg', seq: 1, id: 'm1', ts: 1, d: 'first' }]));
        socket.send(JSON.stringify({ t: 'msg', seq: 2, id: 'm2', ts: 1, d: 'second' }));
        return false;
      },
    });
    const c = client({ url: server.url });
    const got: Json[] = [];
    c.on('message', (d) => got.push(d));
    const two = within(new Promise<void>((resolve) => c.on('message', () => got.length === 2 && resolve())), 'two messages');
    await c.connect();
    await two;
    expect(got).toEqual(['first', 'second']);
    expect(c.sessionId).toBe('b');
  });

  it('drops duplicates (seq at or below the received mark)', async () => {
    const server = await fakeServer();
    const c = client({ url: server.url });
    const got: Json[] = [];
    c.on('message', (d) => got.push(d));
    await c.connect();
    const conn = await server.conn(1);
    conn.send([
      { t: 'msg', seq: 1, id: 'x1', ts: 1, d: 'one' },
      { t: 'msg', seq: 1, id: 'x1', ts: 1, d: 'one again' },
      { t: 'msg', seq: 3, id: 'x3', ts: 1, d: 'three' }, // a gap is fine: the sender abandoned 2
      { t: 'msg', seq: 2, id: 'x2', ts: 1, d: 'late two' },
    ]);
    await server.until(() => conn.session.cacked === 3);
    expect(got).toEqual(['one', 'three']);
  });

  it('keeps messages for receive() when nobody listens, in order', async () => {
    const server = await fakeServer();
    const c = client({ url: server.url });
    await c.connect();
    (await server.conn(1)).push(1, 2, 3);
    expect(await c.receive()).toBe(1);
    expect(await c.receive()).toBe(2);
    expect(await c.receive()).toBe(3);
  });

  it('hands buffered messages to a listener added later', async () => {
    const server = await fakeServer();
    const c = client({ url: server.url });
    await c.connect();
    const conn = await server.conn(1);
    conn.push('early');
    // receive() then proves the message was accepted; a second one waits in the buffer.
    expect(await c.receive()).toBe('early');
    conn.push('buffered');
    // A ping/pong round trip as a barrier: the client has taken 'buffered' into its buffer.
    conn.send({ t: 'ping', ts: 1 });
    await server.until(() => conn.frames.some((f) => f.t === 'pong'));
    expect(c.buffered).toBe(1);
    const got = within(new Promise<Json>((resolve) => c.on('message', (d) => resolve(d))), "'message'");
    expect(await got).toBe('buffered');
    await server.until(() => conn.session.cacked === 2);
  });

  it('receive() rejects with TimeoutError (ERR_TIMEOUT) after timeoutMs', async () => {
    const server = await fakeServer();
    const c = client({ url: server.url });
    await c.connect();
    const error = await c.receive({ timeoutMs: 30 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).code).toBe('ERR_TIMEOUT');
    // The timed-out waiter is gone: the next message goes to the next receive().
    (await server.conn(1)).push('after');
    expect(await c.receive()).toBe('after');
  });

  it('receive() rejects with AbortError when its signal aborts', async () => {
    const c = client({ url: 'ws://127.0.0.1:9' });
    const ctl = new AbortController();
    const pending = c.receive({ signal: ctl.signal });
    ctl.abort(new Error('stop'));
    const error = await pending.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AbortError);
    expect((error as AbortError).code).toBe('ERR_ABORTED');
    await expect(c.receive({ signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
  });

  it('receive() rejects with ClosedError when the client closes', async () => {
    const c = client({ url: 'ws://127.0.0.1:9' });
    const pending = c.receive();
    await c.close();
    await expect(pending).rejects.toBeInstanceOf(ClosedError);
    await expect(c.receive()).rejects.toBeInstanceOf(ClosedError);
  });

  it('messages() yields in order and ends when the client closes', async () => {
    const server = await fakeServer();
    const c = client({ url: server.url });
    await c.connect();
    (await server.conn(1)).push('a', 'b', 'c');
    const seen: Json[] = [];
    for await (const data of c.messages()) {
      seen.push(data);
      if (seen.length === 3) void c.close();
    }
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(c.state).toBe('closed');
  });

  it('messages() ends a pending next() on close, and rejects it with AbortError on abort', async () => {
    const c = client({ url: 'ws://127.0.0.1:9' });
    const ended = c.messages()[Symbol.asyncIterator]().next();
    const ctl = new AbortController();
    const aborted = c.messages({ signal: ctl.signal }).next();
    ctl.abort();
    await expect(aborted).rejects.toBeInstanceOf(AbortError);
    await c.close();
    await expect(ended).resolves.toEqual({ done: true, value: undefined });
  });

  it('withholds acks while the buffer is full, and acks once the application takes messages', async () => {
    const server = await fakeServer();
    const c = client({ url: server.url, maxBuffered: 3 });
    await c.connect();
    const conn = await server.conn(1);
    expect(conn.hello.win).toBe(3);
    conn.push(1, 2, 3);
    // Round trip as a barrier: the client has processed the three messages.
    conn.send({ t: 'ping', ts: 1 });
    await server.until(() => conn.frames.some((f) => f.t === 'pong'));
    expect(c.buffered).toBe(3);
    expect(conn.session.cacked).toBe(0);
    expect(await c.receive()).toBe(1);
    await server.until(() => conn.session.cacked === 1);
    expect(await c.receive()).toBe(2);
    expect(await c.receive()).toBe(3);
    await server.until(() => conn.session.cacked === 3);
  });

  it('treats a server that passes the receive window as a protocol error (4400)', async () => {
    const server = await fakeServer();
    const c = client({ url: server.url, maxBuffered: 2 });
    await c.connect();
    const conn = await server.conn(1);
    const closed = within(new Promise<number>((resolve) => conn.socket.once('close', (code) => resolve(code))), "the server socket's 'close'");
    const protocolError = next(c, 'protocol-error');
    conn.push(1, 2, 3);
    expect((await protocolError)[0]).toBeInstanceOf(ProtocolError);
    expect(await closed).toBe(4400);
    expect(c.state).toBe('closed');
  });

  it('answers a server ping at once with a pong carrying its ts', async () => {
    const server = await fakeServer();
    const c = client({ url: server.url });
    await c.connect();
    const conn = await server.conn(1);
    conn.send({ t: 'ping', ts: 12345 });
    await server.until(() => conn.frames.some((f) => f.t === 'pong'));
    const pong = conn.frames.find((f) => f.t === 'pong');
    expect(pong?.ts).toBe(12345);
    expect(typeof pong?.at).toBe('number');
  });

  it('estimates rtt and clock offset from pongs', async () => {
    const server = await fakeServer();
    let clocked!: (rtt: number) => void;
    const firstClock = within(new Promise<number>((resolve) => (clocked = resolve)), 'the first clock sample');
    const c = client({ url: server.url, heartbeatIntervalMs: 20, plugins: [{ name: 'clock', onClock: (e) => clocked(e.rttMs) }] });
    await c.connect();
    expect(await firstClock).toBeGreaterThanOrEqual(0);
    expect(c.rttMs).toBeGreaterThanOrEqual(0);
    expect(Number.isFinite(c.clockOffsetMs)).toBe(true);
  });
});
