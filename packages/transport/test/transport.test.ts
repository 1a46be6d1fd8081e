import { afterEach, describe, expect, it } from 'vitest';
import { CloseCode, ConnectionError, ProtocolError, UnauthorizedError, jsonCodec, type Codec } from '@lifeline/protocol';
import type { WebSocket } from 'ws';
import { closeAll, next, onCleanup, startProxy, startSilentServer, startWsServer, until, within } from '@lifeline/test-kit';
import { Transport, type CloseInfo, type ReconnectInfo, type TransportOptions, type TransportState, type WebSocketLike } from '../src/index.js';

afterEach(closeAll);

function transport(options: TransportOptions): Transport {
  const t = new Transport(options);
  onCleanup(() => t.close());
  return t;
}

const fast = { minDelayMs: 5, maxDelayMs: 10 };

function answerPings(socket: WebSocket): void {
  socket.on('message', (data) => {
    const frame = JSON.parse(String(data)) as { t: string; ts: number };
    if (frame.t === 'ping') socket.send(JSON.stringify({ t: 'pong', ts: frame.ts, at: Date.now() }));
  });
}

describe('Transport', () => {
  it('connects to a ws server, moves idle → connecting → open, and carries text both ways', async () => {
    const s = await startWsServer((socket) => socket.on('message', (data) => socket.send(`echo:${String(data)}`)));
    const t = transport({ url: s.url });
    const states: TransportState[] = [];
    t.on('state', (state) => states.push(state));
    expect(t.state).toBe('idle');
    await t.connect();
    expect(t.state).toBe('open');
    expect(states).toEqual(['connecting', 'open']);
    const reply = next(t, 'message');
    expect(t.send('hi')).toBe(true);
    expect((await reply)[0]).toBe('echo:hi');
  });

  it('passes messages that arrive during the handshake on to the handshake, and later ones after open', async () => {
    const s = await startWsServer((socket) =>
      socket.once('message', () => {
        socket.send('welcome');
        socket.send('first');
      }),
    );
    const seen: string[] = [];
    const t = transport({
      url: s.url,
      handshake: async (link) => {
        link.send('hello');
        seen.push(`handshake:${await link.receive()}`);
      },
    });
    t.on('message', (text) => seen.push(String(text)));
    const first = next(t, 'message');
    await t.connect();
    await first;
    expect(seen).toEqual(['handshake:welcome', 'first']);
  });

  it('calls a url function before every attempt', async () => {
    let calls = 0;
    const s = await startWsServer((socket, n) => {
      if (n === 1) socket.close(1011, 'oops');
    });
    const t = transport({ url: async () => `${s.url}/?attempt=${++calls}`, reconnect: fast });
    await t.connect();
    await until(t, 'state', () => s.sockets.length === 2 && t.state === 'open');
    expect(calls).toBe(2);
  });

  it('fails an attempt after connectTimeoutMs when the server never answers the upgrade', async () => {
    const silent = await startSilentServer();
    const t = transport({ url: silent.url, connectTimeoutMs: 150, reconnect: false });
    const started = performance.now();
    const error = await t.connect().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).closeCode).toBe(CloseCode.ConnectTimeout);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(t.state).toBe('idle');
    expect(silent.accepted).toBe(1);
  });

  it('retries timed-out attempts with backoff up to maxAttempts', async () => {
    const silent = await startSilentServer();
    const t = transport({ url: silent.url, connectTimeoutMs: 100, reconnect: { ...fast, maxAttempts: 3 } });
    const delays: ReconnectInfo[] = [];
    t.on('reconnecting', (info) => delays.push(info));
    await expect(t.connect()).rejects.toBeInstanceOf(ConnectionError);
    expect(silent.accepted).toBe(3);
    expect(delays.map((d) => d.attempt)).toEqual([2, 3]);
    for (const d of delays) expect(d.delayMs).toBeLessThanOrEqual(10);
  });

  it('finds a dead link with the heartbeat, drops it with 4000 and reconnects', async () => {
    const s = await startWsServer((socket) => answerPings(socket));
    let pings = 0;
    s.wss.on('connection', (socket) => socket.on('message', () => pings++));
    // The window is wide enough that a loop stalled on a busy machine does not end it early.
    const t = transport({ url: s.url, heartbeatIntervalMs: 30, heartbeatTimeoutMs: 400, reconnect: fast });
    const closes: CloseInfo[] = [];
    t.on('close', (info) => closes.push(info));
    await t.connect();
    // Alive while the server answers: well past one timeout (20 pings ≈ 600 ms), no drop.
    await until(t, 'message', () => pings >= 20);
    expect(closes).toEqual([]);
    const first = await s.connection(1);
    first.pause(); // half-open: the server stops reading, so no pong ever comes back
    const [info] = await next(t, 'close');
    expect(info).toEqual({ code: CloseCode.HeartbeatTimeout, reason: 'heartbeat timeout', willReconnect: true });
    await until(t, 'state', () => t.state === 'open');
    expect(s.sockets.length).toBe(2);
  });

  it('counts bytes as life: a message that takes four timeouts to arrive on a slow link does not drop it', async () => {
    const big = JSON.stringify({ t: 'big', d: 'x'.repeat(120_000) });
    let sendBig: (() => void) | undefined;
    const s = await startWsServer((socket) => {
      answerPings(socket);
      sendBig = () => socket.send(big);
    });
    const proxy = await startProxy(Number(new URL(s.url).port));
    const t = transport({ url: proxy.url(), heartbeatIntervalMs: 50, heartbeatTimeoutMs: 300, reconnect: fast });
    const closes: CloseInfo[] = [];
    t.on('close', (info) => closes.push(info));
    await t.connect();
    // 120 KB at 100 KB/s: 1.2 s, and the pongs wait behind it. Counted in whole messages only,
    // the link was called dead after 300 ms.
    proxy.throttle(100_000);
    const started = performance.now();
    let got = false;
    t.on('message', (data) => (got ||= data === big));
    sendBig?.();
    await until(t, 'message', () => got, 10_000);
    expect(performance.now() - started).toBeGreaterThan(900);
    expect(closes).toEqual([]);
    expect(t.state).toBe('open');
  });

  it('follows the codec the handshake chose: pings in it, and binary messages passed on as bytes for a binary codec', async () => {
    // JSON text carried in binary messages: enough to see which frames go through the codec.
    const bytes: Codec<Buffer> = {
      ...(jsonCodec as unknown as Codec<Buffer>),
      name: 'json-bytes',
      binary: true,
      ping: (ts) => Buffer.from(jsonCodec.ping(ts)),
    };
    let ping!: (seen: { binary: boolean; text: string }) => void;
    const pinged = new Promise<{ binary: boolean; text: string }>((resolve) => (ping = resolve));
    const s = await startWsServer((socket) => socket.on('message', (data, isBinary) => ping({ binary: isBinary, text: String(data) })));
    const t = transport({
      url: s.url,
      heartbeatIntervalMs: 20,
      handshake: async (link) => {
        link.useCodec(bytes);
      },
    });
    await t.connect();
    const got = next(t, 'message');
    (await s.connection(1)).send(Buffer.from('{"t":"cack","seq":0}'));
    // Asked for as ArrayBuffer (what browsers can give), not as a Blob.
    const [data] = await got;
    expect(Object.prototype.toString.call(data)).toBe('[object ArrayBuffer]');
    expect(Buffer.from(data as ArrayBuffer).toString()).toBe('{"t":"cack","seq":0}');
    const first = await within(pinged, 'a ping');
    expect(first.binary).toBe(true);
    expect(JSON.parse(first.text)).toMatchObject({ t: 'ping' });
  });

  it('reads what arrived while the event loop was blocked before it calls the link dead', async () => {
    const s = await startWsServer();
    // The window must outlast connect → send on a loaded machine, or the link is rightly dead
    // before the block begins: 100 ms did not, once, in a fresh clone's full npm test.
    const t = transport({ url: s.url, heartbeatIntervalMs: 60_000, heartbeatTimeoutMs: 1_000, reconnect: fast });
    const closes: CloseInfo[] = [];
    t.on('close', (info) => closes.push(info));
    await t.connect();
    const got = next(t, 'message');
    (await s.connection(1)).send('still here');
    // The whole heartbeat window passes while the loop is blocked; when it unblocks, the check's
    // timer is due before the socket is read, and the message is waiting in the socket.
    const blockedUntil = performance.now() + 1_100;
    while (performance.now() < blockedUntil);
    expect((await got)[0]).toBe('still here');
    await new Promise((resolve) => setImmediate(resolve)); // past the deferred verdict
    expect(closes).toEqual([]);
    expect(t.state).toBe('open');
  });

  it('reconnects after the server closes the socket', async () => {
    const s = await startWsServer();
    const t = transport({ url: s.url, reconnect: { ...fast, minUptimeMs: 0 } });
    await t.connect();
    const states: TransportState[] = [];
    t.on('state', (state) => states.push(state));
    const reconnecting = next(t, 'reconnecting');
    (await s.connection(1)).close(1011, 'internal');
    const [info] = await reconnecting;
    expect(info.attempt).toBe(1);
    await until(t, 'state', () => t.state === 'open');
    expect(states).toEqual(['reconnecting', 'open']);
    expect(s.sockets.length).toBe(2);
  });

  it('stops on 4401: no reconnect, typed UnauthorizedError, state closed', async () => {
    const s = await startWsServer((socket) => socket.close(CloseCode.Unauthorized, 'bad token'));
    const t = transport({ url: s.url, reconnect: fast });
    const closes: CloseInfo[] = [];
    t.on('close', (info) => closes.push(info));
    const failed = next(t, 'error');
    await t.connect();
    const [error] = await failed;
    expect(error).toBeInstanceOf(UnauthorizedError);
    expect((error as UnauthorizedError).closeCode).toBe(4401);
    expect(closes).toEqual([{ code: 4401, reason: 'bad token', willReconnect: false }]);
    expect(t.state).toBe('closed');
    expect(s.sockets.length).toBe(1);
  });

  it('rejects connect() with UnauthorizedError when the server refuses the handshake', async () => {
    const s = await startWsServer((socket) => socket.once('message', () => socket.close(CloseCode.Unauthorized, 'who are you')));
    const t = transport({
      url: s.url,
      reconnect: fast,
      handshake: async (link) => {
        link.send('hello');
        await link.receive();
      },
    });
    const error = await t.connect().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnauthorizedError);
    expect(t.state).toBe('idle');
    expect(s.sockets.length).toBe(1);
  });

  it('waits at least retryAfter() (plus jitter) before the next attempt', async () => {
    const s = await startWsServer();
    const t = transport({ url: s.url, reconnect: { ...fast, maxDelayMs: 1_000 }, random: () => 0 });
    await t.connect();
    t.retryAfter(120);
    const reconnecting = next(t, 'reconnecting');
    const dropped = performance.now();
    (await s.connection(1)).close(CloseCode.GoingAway, 'restarting');
    expect((await reconnecting)[0].delayMs).toBe(120);
    await until(t, 'state', () => t.state === 'open');
    expect(performance.now() - dropped).toBeGreaterThanOrEqual(100);
  });

  it('keeps counting attempts across drops until a connection stays up minUptimeMs', async () => {
    const s = await startWsServer((socket) => socket.close(1011, 'flap'));
    const t = transport({ url: s.url, reconnect: { ...fast, maxAttempts: 3, minUptimeMs: 60_000 } });
    const attempts: number[] = [];
    t.on('reconnecting', (info) => attempts.push(info.attempt));
    const failed = next(t, 'error');
    await t.connect().catch(() => {});
    const [error] = await failed;
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error.message).toMatch(/gave up after 3 attempts/);
    expect(attempts).toEqual([2, 3]);
    expect(s.sockets.length).toBe(3);
    expect(t.state).toBe('closed');
  });

  it('closes with 4400 on a binary message', async () => {
    const s = await startWsServer((socket) => socket.send(Buffer.from([1, 2, 3])));
    const t = transport({ url: s.url, reconnect: fast });
    const failed = next(t, 'error');
    const serverSawClose = within(
      new Promise<number>((resolve) => s.wss.once('connection', (socket) => socket.once('close', (code) => resolve(code)))),
      "the server socket's 'close'",
    );
    await t.connect();
    expect((await failed)[0]).toBeInstanceOf(ProtocolError);
    expect(await serverSawClose).toBe(4400);
  });

  it('close() is terminal and idempotent, cancel() stops a connect loop', async () => {
    const silent = await startSilentServer();
    const t = transport({ url: silent.url, connectTimeoutMs: 5_000 });
    const pending = t.connect();
    expect(t.state).toBe('connecting');
    t.cancel('test');
    await expect(pending).rejects.toThrow(/cancel/);
    expect(t.state).toBe('idle');
    t.close();
    t.close();
    expect(t.state).toBe('closed');
    await expect(t.connect()).rejects.toThrow(/closed/);
  });

  it('reports backpressure through writable and drain', async () => {
    class FakeSocket implements WebSocketLike {
      static last: FakeSocket | undefined;
      readyState = 0;
      bufferedAmount = 0;
      private readonly listeners = new Map<string, Array<(event: never) => void>>();
      constructor(readonly url: string) {
        FakeSocket.last = this;
        setTimeout(() => {
          this.readyState = 1;
          this.fire('open', {});
        }, 0);
      }
      send(data: string): void {
        this.bufferedAmount += data.length;
      }
      close(code = 1000, reason = ''): void {
        this.readyState = 3;
        this.fire('close', { code, reason });
      }
      addEventListener(type: string, listener: (event: never) => void): void {
        this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
      }
      private fire(type: string, event: object): void {
        for (const l of this.listeners.get(type) ?? []) (l as (e: object) => void)(event);
      }
    }
    const t = transport({ url: 'ws://fake', WebSocket: FakeSocket, highWaterMarkBytes: 100 });
    await t.connect();
    expect(t.writable).toBe(true);
    t.send('x'.repeat(150));
    expect(t.writable).toBe(false);
    const drained = next(t, 'drain');
    (FakeSocket.last as FakeSocket).bufferedAmount = 0;
    await drained;
    expect(t.writable).toBe(true);
  });

  it('validates numeric options with a TypeError', () => {
    expect(() => new Transport({ url: 'ws://x', connectTimeoutMs: 0 })).toThrow(TypeError);
    expect(() => new Transport({ url: 'ws://x', heartbeatIntervalMs: Number.NaN })).toThrow(/heartbeatIntervalMs/);
    expect(() => new Transport({ url: 'ws://x', reconnect: { minDelayMs: 100, maxDelayMs: 50 } })).toThrow(/maxDelayMs/);
    expect(() => new Transport({ url: 'ws://x', reconnect: { maxAttempts: 1.5 } })).toThrow(/maxAttempts/);
    expect(() => new Transport({ url: 'ws://x', prepare: 'load' as never })).toThrow(/prepare/);
    expect(() => new Transport({ url: 'ws://x', established: {} as never })).toThrow(/established/);
  });
});
