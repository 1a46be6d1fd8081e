import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { CloseCode, ProtocolError } from '@lifeline/protocol';
import type { WebSocketConstructor } from '@lifeline/transport';
import { MiB, memory, next, within } from '@lifeline/test-kit';
import { client, useFixtures } from './helpers.js';

/**
 * A hostile server against the client's buffers, past the cases of issue 9 (docs/bounds.md):
 * what it sends before the handshake ends, pongs to a server that does not read, and the
 * receive buffer across sessions the server keeps losing. Real sockets on 127.0.0.1; each
 * memory figure is printed, and bounded generously.
 */

useFixtures();

const mb = (n: number): string => `${(n / MiB).toFixed(1)} MB`;

const servers: WebSocketServer[] = [];
afterEach(async () => {
  for (const wss of servers.splice(0)) {
    for (const s of wss.clients) s.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  }
});

/** A bare `ws` server on port 0: the test writes the hostile server's behaviour itself. */
async function rawServer(): Promise<{ wss: WebSocketServer; url: string }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  servers.push(wss);
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  return { wss, url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}` };
}

const welcome = (sid: string, win = 1024): string =>
  JSON.stringify({ t: 'welcome', v: 1, sid, token: `token-${sid}`, resumed: false, seq: 0, win, hb: 15_000, max: 1_048_576 });

/** The client's WebSocket, with a count of the characters it received (what the peer made it read). */
function countingSocket(onMessage: (chars: number) => void): { WebSocket: WebSocketConstructor; sockets: WebSocket[] } {
  const sockets: WebSocket[] = [];
  class Counting extends WebSocket {
    constructor(url: string, protocols?: string | string[], options?: WebSocket.ClientOptions) {
      super(url, protocols, options);
      sockets.push(this);
      this.on('message', (data: Buffer) => onMessage(data.length));
    }
  }
  return { WebSocket: Counting as unknown as WebSocketConstructor, sockets };
}

describe('a server that floods the handshake', () => {
  it('is dropped with 4400 once it sent more than maxPayloadBytes before welcome, while an async auth() runs', async () => {
    const total = 64 * MiB;
    const size = 256 * 1024;
    const { wss, url } = await rawServer();
    let serverClosed!: () => void;
    const closed = new Promise<void>((resolve) => (serverClosed = resolve));
    wss.on('connection', (socket) => {
      socket.on('error', () => {});
      socket.on('close', () => serverClosed());
      // Before any hello: a real server sends at most one bye here.
      const chunk = JSON.stringify({ t: 'ping', ts: 1, pad: 'x'.repeat(size) });
      for (let sent = 0; sent < total; sent += chunk.length) socket.send(chunk);
    });
    let received = 0;
    let allIn!: () => void;
    const gotAll = new Promise<void>((resolve) => (allIn = resolve));
    const counting = countingSocket((chars) => {
      received += chars;
      if (received >= total) allIn();
    });
    let during: NodeJS.MemoryUsage | undefined;
    const before = memory('handshake flood, before');
    const c = client({
      url,
      WebSocket: counting.WebSocket,
      maxPayloadBytes: MiB,
      // A token fetched over the network: the window in which nothing is read but the flood.
      auth: async () => {
        await within(Promise.race([gotAll, closed]), 'the flood, or the client dropping it');
        during = memory(`handshake flood, ${mb(received)} received while auth() ran`);
        return 'token';
      },
    });
    const error = await c.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(during).toBeDefined();
    const growth = (during as NodeJS.MemoryUsage).heapUsed - before.heapUsed;
    console.log(`handshake flood: heap growth ${mb(growth)} for ${mb(received)} received`);
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).closeCode).toBe(CloseCode.BadFrame);
    expect(received).toBeLessThan(total);
    expect(growth).toBeLessThan(16 * MiB);
  });
});

describe('a server that does not read', () => {
  it('gets no pongs past highWaterMarkBytes, and is dropped (4000) when the socket has not drained for heartbeatTimeoutMs', async () => {
    const batches = 200;
    const batch = JSON.stringify(Array.from({ length: 4096 }, (_, i) => ({ t: 'ping', ts: i + 1 })));
    const { wss, url } = await rawServer();
    wss.on('connection', (socket) => {
      socket.on('error', () => {});
      socket.once('message', () => {
        socket.send(welcome('flood'));
        // Stop reading (TCP stops the client's writes), flood it with pings, and never fall silent.
        socket.pause();
        for (let i = 0; i < batches; i++) socket.send(batch);
        const keepAlive = setInterval(() => socket.send('{"t":"ping","ts":1}'), 100);
        socket.on('close', () => clearInterval(keepAlive));
      });
    });
    let messages = 0;
    let allIn!: () => void;
    const gotAll = new Promise<void>((resolve) => (allIn = resolve));
    const counting = countingSocket(() => {
      // welcome + the batches
      if (++messages === batches + 1) allIn();
    });
    const highWater = 256 * 1024;
    const c = client({
      url,
      WebSocket: counting.WebSocket,
      highWaterMarkBytes: highWater,
      heartbeatIntervalMs: 60_000,
      heartbeatTimeoutMs: 1_000,
    });
    await c.connect();
    const dropped = next(c, 'disconnect');
    await within(gotAll, `${batches} batches of 4,096 pings`);
    // Every pong the client would write is in the socket's buffer by now (the writer flushes per turn).
    await new Promise((resolve) => setImmediate(resolve));
    const socket = counting.sockets[0] as WebSocket;
    const buffered = socket.bufferedAmount;
    console.log(`ping flood: ${batches * 4096} pings read, ${mb(buffered)} of pongs buffered (high-water mark ${mb(highWater)})`);
    expect(buffered).toBeLessThan(highWater + 512 * 1024);
    const [info] = await dropped;
    console.log(`ping flood: dropped with ${info.code} (${info.reason})`);
    expect(info.code).toBe(CloseCode.HeartbeatTimeout);
    expect(info.willReconnect).toBe(true);
  });
});

describe('a server that loses the session on every connection', () => {
  it('holds at most maxBuffered messages in all, not maxBuffered per lost session', async () => {
    const win = 64;
    const sessions = 30;
    const id = 'i'.repeat(128);
    const { wss, url } = await rawServer();
    let n = 0;
    let lastOpen!: () => void;
    const allOpened = new Promise<void>((resolve) => (lastOpen = resolve));
    wss.on('connection', (socket) => {
      socket.on('error', () => {});
      socket.once('message', () => {
        const k = ++n;
        socket.send(welcome(`lost-${k}`, win));
        const frames = Array.from({ length: win }, (_, i) => ({ t: 'msg', seq: i + 1, id: `${id.slice(0, 120)}${i}`, ts: Date.now(), d: 0 }));
        socket.send(JSON.stringify(frames));
        // A pong to this ping means the client read the batch before it.
        socket.send(JSON.stringify({ t: 'ping', ts: k }));
        socket.on('message', (raw) => {
          if (!String(raw).includes(`"ts":${k},`)) return;
          if (k < sessions) socket.close(CloseCode.GoingAway, 'again');
          else lastOpen();
        });
      });
    });
    const before = memory('lost sessions, before');
    const c = client({ url, maxBuffered: win, reconnect: { minDelayMs: 1, maxDelayMs: 5 } });
    await c.connect();
    await within(allOpened, `${sessions} sessions`);
    const after = memory(`lost sessions, after ${sessions} sessions of ${win} messages`);
    console.log(`lost sessions: ${c.buffered} messages held, heap growth ${mb(after.heapUsed - before.heapUsed)}`);
    expect(c.buffered).toBeLessThanOrEqual(win);
    // Nothing taken: the first session's messages are the ones held, in order.
    expect(await c.receive()).toBe(0);
  });
});

describe('a server that reads every message and answers none', () => {
  it('holds no more than maxQueued.bytes of ours in flight, whatever window it announces', async () => {
    const { wss, url } = await rawServer();
    let received = 0;
    let onReceived = (): void => {};
    wss.on('connection', (socket) => {
      socket.once('message', () => {
        socket.send(welcome('s1', 65_535));
        socket.on('message', (raw) => {
          for (const f of [JSON.parse(String(raw))].flat() as Array<{ t: string }>) if (f.t === 'msg') received++;
          onReceived();
        });
      });
    });
    let transmitted = 0;
    const bound = MiB;
    const c = client({
      url,
      maxQueued: { messages: 10_000, bytes: bound },
      ackTimeoutMs: 60_000,
      plugins: [{ name: 'count', onTransmit: () => void transmitted++ }],
    });
    await c.connect();
    const payload = 'x'.repeat(64 * 1024);
    // The pump runs inside send(): what may go is transmitted by the end of this loop.
    for (let i = 0; i < 100; i++) c.send(payload).catch(() => {});
    const fits = Math.floor(bound / JSON.stringify(payload).length);
    await within(new Promise<void>((resolve) => (onReceived = () => received >= transmitted && resolve())), 'the transmitted messages', 5_000);
    console.log(`window 65,535, 100 sends of 64 KiB, maxQueued.bytes 1 MiB: ${transmitted} transmitted, ${received} received`);
    expect(transmitted).toBeGreaterThan(0);
    expect(transmitted).toBeLessThanOrEqual(fits);
    expect(received).toBe(transmitted);
  });
});
