import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { jsonCodec, msgpackCodec } from '@lifeline/protocol';
import type { Session } from '@lifeline/server';
import { client, closeAll, onCleanup, startProxy, startServer, until, within } from '@lifeline/test-kit';

afterEach(closeAll);

const both = [msgpackCodec, jsonCodec];

/** The session's codec: a field of the server's session object that its public type does not name. */
const codecOf = (s: Session | undefined): string | undefined => (s as unknown as { codec?: { name: string } } | undefined)?.codec?.name;

describe('msgpack, end to end (protocol.md, "Codecs")', () => {
  it('client and server offering msgpack first speak it: sends acked, pushes delivered, a cut resumed with nothing lost', async () => {
    const handled = new Map<string, number>();
    const sessions: Session[] = [];
    const server = await startServer({
      codecs: both,
      handler: (data, ctx) => {
        handled.set(ctx.id, (handled.get(ctx.id) ?? 0) + 1);
        const d = data as { op: string; qty: number; price: number };
        if (d.op === 'fail') throw Object.assign(new Error('refused'), { code: 'E_REFUSED' });
        return { filled: d.qty, at: d.price, levels: [[1.08345, 1_000_000]] };
      },
    });
    server.on('session', (s: Session) => sessions.push(s));
    const proxy = await startProxy(server.port);
    const c = client(proxy.url(), { codecs: both });
    const received: unknown[] = [];
    c.on('message', (d) => received.push(d));
    let resumed = 0;
    let lost = 0;
    c.on('resumed', () => resumed++);
    c.on('session-lost', () => lost++);
    await c.connect({ timeoutMs: 5_000 });
    expect(sessions).toHaveLength(1);
    expect(codecOf(sessions[0])).toBe('msgpack');

    const order = (i: number) => ({ op: 'buy', symbol: 'EURUSD', qty: 1000 + i, price: 1.08345, clientOrderId: `o-${i}` });
    expect(await c.send(order(0))).toEqual({ filled: 1000, at: 1.08345, levels: [[1.08345, 1_000_000]] });
    await expect(c.send({ op: 'fail', qty: 1, price: 1 })).rejects.toMatchObject({ remoteCode: 'E_REFUSED', message: 'refused' });
    const s = sessions[0] as Session;
    await s.send({ tick: 1, bid: 1.08344, ask: 1.08346, unicode: 'é✓😀' });
    await until(c, 'message', () => received.length >= 1);
    expect(received[0]).toEqual({ tick: 1, bid: 1.08344, ask: 1.08346, unicode: 'é✓😀' });

    // Sends in flight and pushes queued across a cut: the session resumes in msgpack.
    const sends = Array.from({ length: 200 }, (_, i) => c.send(order(i + 1), { id: `m${i + 1}` }));
    const pushes = Array.from({ length: 50 }, (_, i) => s.send({ tick: i + 2 }));
    proxy.cutAll();
    const results = await within(Promise.all(sends), 'sends after the cut');
    await within(Promise.all(pushes), 'pushes after the cut');
    await until(c, 'message', () => received.length >= 51, 10_000);
    expect(results.map((r) => (r as { filled: number }).filled)).toEqual(Array.from({ length: 200 }, (_, i) => 1001 + i));
    expect(received.slice(1)).toEqual(Array.from({ length: 50 }, (_, i) => ({ tick: i + 2 })));
    expect([...handled.values()].every((n) => n === 1)).toBe(true);
    expect(resumed).toBeGreaterThanOrEqual(1);
    expect(lost).toBe(0);
    expect(sessions).toHaveLength(1);
    expect(codecOf(server.sessions.get(s.id))).toBe('msgpack');
  });

  it('falls back to JSON with a server that speaks JSON alone, and a JSON-only client gets JSON from a msgpack server', async () => {
    const jsonServer = await startServer({ handler: (d) => d });
    const sessions: Session[] = [];
    jsonServer.on('session', (s: Session) => sessions.push(s));
    const a = client(`ws://127.0.0.1:${jsonServer.port}`, { codecs: both });
    await a.connect();
    expect(await a.send({ x: 1 })).toEqual({ x: 1 });
    expect(codecOf(sessions[0])).toBe('json');

    const mpServer = await startServer({ codecs: both, handler: (d) => d });
    mpServer.on('session', (s: Session) => sessions.push(s));
    const b = client(`ws://127.0.0.1:${mpServer.port}`);
    await b.connect();
    expect(await b.send({ y: 2 })).toEqual({ y: 2 });
    expect(codecOf(sessions[1])).toBe('json');
  });

  it('sends queued before connect() reach a JSON-only server, re-encoded; a Date is a TypeError at send() and an error ack as a result', async () => {
    const server = await startServer({ handler: (d) => (d === 'date' ? new Date(0) : d) });
    const early = client(`ws://127.0.0.1:${server.port}`, { codecs: both });
    const queued = [early.send({ a: [1, 2.5, 'x'] }), early.send('é✓')];
    await early.connect();
    expect(await Promise.all(queued)).toEqual([{ a: [1, 2.5, 'x'] }, 'é✓']);

    const mpServer = await startServer({ codecs: both, handler: (d) => (d === 'date' ? new Date(0) : d) });
    const c = client(`ws://127.0.0.1:${mpServer.port}`, { codecs: both });
    await c.connect();
    await expect(c.send({ when: new Date(0) })).rejects.toBeInstanceOf(TypeError);
    await expect(c.send('date')).rejects.toMatchObject({ name: 'RemoteError' });
    expect(await c.send('still open')).toBe('still open');
    expect(c.state).toBe('open');
  });

  it('on the wire: welcome is JSON text, then every message is binary MessagePack', async () => {
    const server = await startServer({ codecs: both, handler: (d) => d });
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}`);
    onCleanup(() => ws.terminate());
    const m = msgpackCodec;
    const kinds: boolean[] = [];
    const frames: Array<Record<string, unknown>> = [];
    let welcome: unknown;
    ws.on('message', (data: Buffer, binary) => {
      kinds.push(binary);
      if (welcome === undefined) welcome = JSON.parse(data.toString());
      else frames.push(...(m.decode(data) as unknown as Array<Record<string, unknown>>));
    });
    await within(new Promise((resolve) => ws.once('open', resolve)), 'open');
    ws.send(jsonCodec.hello({ v: 1, codecs: ['msgpack'] }));
    await until(ws, 'message', () => welcome !== undefined, undefined, 'welcome');
    expect(welcome).toMatchObject({ t: 'welcome', codec: 'msgpack' });
    ws.send(m.batch([m.msg(1, m.value('a'), 1, m.value({ q: 1 })), m.msg(2, m.value('b'), 1, m.value([1.5, 2])), m.ping(7)]));
    const outcomes = () => frames.flatMap((f) => (f.t === 'ack' ? [f.r] : f.t === 'acks' ? (f.r as unknown[]) : []));
    await until(ws, 'message', () => outcomes().length >= 2 && frames.some((f) => f.t === 'pong'), undefined, 'two outcomes and a pong');
    expect(outcomes()).toEqual([{ q: 1 }, [1.5, 2]]);
    expect(frames.find((f) => f.t === 'pong')).toMatchObject({ ts: 7 });
    expect(kinds[0]).toBe(false);
    expect(kinds.slice(1).every(Boolean)).toBe(true);
    // A text message on a msgpack session is refused with 4400.
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send('{"t":"ping","ts":1}');
    expect(await within(closed, 'close')).toBe(4400);
  });
});
