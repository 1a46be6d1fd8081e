import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CloseCode, ConnectionError, type Json } from '@lifeline/protocol';
import type { WebSocketConstructor } from '@lifeline/transport';
import { memory, MiB, next, reach, within } from '@lifeline/test-kit';
import { REFETCH_CLOSE_CODE } from '../src/inbox.js';
import { client, fakeServer, useFixtures } from './helpers.js';
import type { AnyFrame, Conn, FakeServer } from './fake-server.js';

useFixtures();

/** Resolves once the client answered a ping sent after everything before it: it read all of that. */
async function readUpTo(server: FakeServer, conn: Conn, ts: number): Promise<void> {
  conn.send({ t: 'ping', ts });
  await server.until(() => conn.frames.some((f) => f.t === 'pong' && f.ts === ts));
}

describe('a server that asks for absurd waits', () => {
  it.each([3e9, 2e9, 1e308])('clamps bye.retryMs %d to reconnect.maxDelayMs, in a refusal and in an open session', async (retryMs) => {
    let refuse = true;
    const server = await fakeServer({
      onHello: (_hello, socket) => {
        if (!refuse) return true;
        refuse = false;
        socket.send(JSON.stringify({ t: 'bye', code: CloseCode.TryAgainLater, reason: 'busy', retryMs }));
        socket.close(CloseCode.TryAgainLater, 'busy');
        return false;
      },
    });
    const c = client({ url: server.url, random: () => 0, reconnect: { minDelayMs: 5, maxDelayMs: 40 } });
    const first = next(c, 'reconnecting');
    const connected = c.connect();
    // random() = 0: no jitter, so the delay is exactly the clamped floor; 3e9 used to overflow
    // the timer (0 ms) and 2e9 to wait 23 days.
    expect((await first)[0].delayMs).toBe(40);
    await connected;

    const conn = await server.conn(1);
    const again = next(c, 'reconnecting');
    conn.send({ t: 'bye', code: CloseCode.GoingAway, reason: 'restarting', retryMs });
    conn.socket.close(CloseCode.GoingAway, 'restarting');
    expect((await again)[0].delayMs).toBe(40);
    await reach(c, 'open');
    expect(server.conns).toHaveLength(2);
  });
});

describe('a server that floods the receive buffer', () => {
  it('bounds held messages in bytes (maxBufferedBytes), acknowledges none of them, and gets every one in order through resumes', async () => {
    const count = 40;
    const size = 256 * 1024;
    // 256 KiB as JSON, quotes included: exactly four fit in 1 MiB.
    const payload = (i: number): string => `${i}:`.padEnd(size - 2, 'x');
    const frame = (seq: number): AnyFrame => ({ t: 'msg', seq, id: `s${seq}`, ts: Date.now(), d: payload(seq) });
    const server = await fakeServer();
    // Every resume gets what the client had not taken, as a real server replays it.
    server.on('conn', (conn: Conn) => {
      const resume = conn.hello.resume as { seq: number } | undefined;
      if (resume === undefined) return;
      for (let seq = resume.seq + 1; seq <= count; seq++) conn.send(frame(seq));
    });
    const c = client({ url: server.url, maxBufferedBytes: MiB });
    await c.connect();
    const conn = await server.conn(1);
    const before = memory('before the flood');
    for (let seq = 1; seq <= count; seq++) conn.send(frame(seq));
    conn.session.nextSeq = count + 1;
    await readUpTo(server, conn, 1);
    const after = memory(`after ${count} × 256 KiB pushed (10 MiB)`);
    // Four fit in 1 MiB; what did not fit is neither held nor acknowledged.
    expect(c.buffered).toBe(4);
    expect(conn.frames.filter((f) => f.t === 'cack')).toEqual([]);
    expect(after.heapUsed - before.heapUsed).toBeLessThan(8 * MiB);

    const disconnects: number[] = [];
    c.on('disconnect', (info) => disconnects.push(info.code));
    const got: Json[] = [];
    for (let i = 0; i < count; i++) {
      got.push(await c.receive({ timeoutMs: 10_000 }));
      expect(c.buffered).toBeLessThanOrEqual(4);
    }
    expect(got.map((d) => Number(String(d).split(':')[0]))).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    expect(got.every((d, i) => d === payload(i + 1))).toBe(true);
    expect(disconnects.length).toBeGreaterThan(0);
    expect(new Set(disconnects)).toEqual(new Set([REFETCH_CLOSE_CODE]));
    const last = server.conns[server.conns.length - 1] as Conn;
    await server.until(() => last.session.cacked === count);
    console.log(`resumes to fetch what the full buffer skipped: ${disconnects.length}`);
  });

  it('validates maxBufferedBytes', () => {
    expect(() => client({ url: 'ws://127.0.0.1:1', maxBufferedBytes: 0 })).toThrow(TypeError);
    expect(() => client({ url: 'ws://127.0.0.1:1', maxPayloadBytes: 0 })).toThrow(TypeError);
    expect(() => client({ url: 'ws://127.0.0.1:1', maxBufferedBytes: Infinity, maxPayloadBytes: Infinity })).not.toThrow();
  });
});

/** A `ws` constructor that drops its options, as a browser's `WebSocket` has no maxPayload. */
const BrowserLike = class extends WebSocket {
  constructor(url: string, protocols?: string | string[]) {
    super(url, protocols);
  }
} as unknown as WebSocketConstructor;

describe('a server that sends an oversized message', () => {
  it.each([
    ['ws (maxPayload)', undefined],
    ['a WebSocket without maxPayload (browser)', BrowserLike],
  ])('closes with 1009 and buffers nothing: %s', async (_name, WebSocketImpl) => {
    const server = await fakeServer();
    const c = client({ url: server.url, maxPayloadBytes: 64 * 1024, WebSocket: WebSocketImpl });
    const errors: Error[] = [];
    c.on('error', (e) => errors.push(e));
    await c.connect();
    const conn = await server.conn(1);
    const serverClosed = once(conn.socket, 'close');
    const disconnect = next(c, 'disconnect');
    const before = memory('before an 8 MiB message');
    conn.push('x'.repeat(8 * MiB));
    expect((await disconnect)[0]).toMatchObject({ code: CloseCode.MessageTooBig, willReconnect: false });
    await reach(c, 'closed');
    memory('after it was refused');
    expect(c.buffered).toBe(0);
    expect(errors[0]).toBeInstanceOf(ConnectionError);
    expect((errors[0] as ConnectionError).closeCode).toBe(CloseCode.MessageTooBig);
    const [code] = (await within(serverClosed, 'the server side to close')) as [number];
    console.log(`server side saw close ${code}`);
    expect([CloseCode.MessageTooBig, 1006]).toContain(code);
    expect(process.memoryUsage().heapUsed - before.heapUsed).toBeLessThan(64 * MiB);
  });

  it('accepts a message at the bound', async () => {
    const server = await fakeServer();
    const c = client({ url: server.url, maxPayloadBytes: 64 * 1024 });
    await c.connect();
    const conn = await server.conn(1);
    const data = 'y'.repeat(64 * 1024 - 60);
    conn.push(data);
    expect(await c.receive()).toBe(data);
  });
});

describe('a server that forges pongs', () => {
  it('ignores a pong that answers no ping of ours, and takes one that does', async () => {
    const server = await fakeServer();
    const c = client({ url: server.url, heartbeatIntervalMs: Infinity });
    await c.connect();
    const conn = await server.conn(1);
    conn.send({ t: 'pong', ts: Date.now() - 5, at: Date.now() + 1e9 });
    conn.push('after the pong');
    expect(await c.receive()).toBe('after the pong');
    expect(c.clockOffsetMs).toBeNaN();
    expect(c.rttMs).toBeNaN();

    let clocked!: () => void;
    const clock = new Promise<void>((resolve) => (clocked = resolve));
    const pinging = client({ url: server.url, heartbeatIntervalMs: 10, plugins: [{ name: 'clock', onClock: () => clocked() }] });
    await pinging.connect();
    await within(clock, 'a clock offset from a real pong');
    // The fake server's clock is ours: the offset is about half a round trip.
    expect(Math.abs(pinging.clockOffsetMs)).toBeLessThan(1_000);
  });
});
