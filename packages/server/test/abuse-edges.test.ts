import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CloseCode, type ClockEvent, type LifelinePlugin } from '@lifeline/protocol';
import { metrics } from '@lifeline/metrics';
import type { LimitInfo } from '../src/index.js';
import { RawClient, closeAll, nextEvent, startServer, urlOf, type AnyFrame } from './helpers.js';

const MiB = 1024 * 1024;
const mb = (n: number): string => `${(n / MiB).toFixed(1)} MB`;
/** Well under ws's own 30 s close timeout, well over the 1 s grace: a bound, not a timing. */
const GRACE_BOUND_MS = 8_000;

const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await closeAll();
});

function memory(label: string): NodeJS.MemoryUsage {
  const m = process.memoryUsage();
  console.log(`${label}: heap ${mb(m.heapUsed)}, rss ${mb(m.rss)}`);
  return m;
}

/** Resolves when `promise` does, or rejects naming `what` after `ms`. */
function within<T>(promise: Promise<T>, what: string, ms = GRACE_BOUND_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`waited ${ms} ms for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A masked client text frame (RFC 6455 §5.2). */
function clientFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const n = payload.length;
  const header = n < 126 ? Buffer.from([0x81, 0x80 | n]) : Buffer.from([0x81, 0x80 | 126, n >> 8, n & 0xff]);
  const mask = randomBytes(4);
  const masked = Buffer.alloc(n);
  for (let i = 0; i < n; i++) masked[i] = (payload[i] as number) ^ (mask[i & 3] as number);
  return Buffer.concat([header, mask, masked]);
}

/**
 * A peer that speaks WebSocket by hand and never answers a close frame: it reads what the
 * server writes (text frames and the close code) but sends nothing back unless told to.
 */
class DeafPeer {
  readonly texts: AnyFrame[] = [];
  closeCode: number | undefined;
  readonly closed: Promise<unknown>;
  private buf = Buffer.alloc(0);
  private upgraded = false;
  private wake: (() => void) | undefined;

  private constructor(readonly socket: Socket) {
    sockets.push(socket);
    socket.on('error', () => {});
    this.closed = once(socket, 'close');
    socket.on('data', (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      this.parse();
      this.wake?.();
    });
  }

  static async open(port: number): Promise<DeafPeer> {
    const socket = connect(port, '127.0.0.1');
    const peer = new DeafPeer(socket);
    await within(once(socket, 'connect'), 'connect');
    const key = randomBytes(16).toString('base64');
    socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    await peer.until(() => peer.upgraded, 'the 101');
    return peer;
  }

  send(frame: AnyFrame | string): void {
    this.socket.write(clientFrame(typeof frame === 'string' ? frame : JSON.stringify(frame)));
  }

  async hello(extra: AnyFrame = {}): Promise<AnyFrame> {
    this.send({ t: 'hello', v: 1, ...extra });
    await this.until(() => this.texts.some((f) => f.t === 'welcome'), 'welcome');
    return this.texts.find((f) => f.t === 'welcome') as AnyFrame;
  }

  until(predicate: () => boolean, what: string): Promise<void> {
    if (predicate()) return Promise.resolve();
    return within(
      new Promise<void>((resolve) => {
        this.wake = () => {
          if (predicate()) resolve();
        };
      }),
      what,
    );
  }

  private parse(): void {
    if (!this.upgraded) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      if (!this.buf.subarray(0, 12).toString().includes('101')) throw new Error(`upgrade refused: ${this.buf.toString()}`);
      this.upgraded = true;
      this.buf = this.buf.subarray(end + 4);
    }
    for (;;) {
      if (this.buf.length < 2) return;
      const opcode = (this.buf[0] as number) & 0x0f;
      let len = (this.buf[1] as number) & 0x7f;
      let at = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        at = 10;
      }
      if (this.buf.length < at + len) return;
      const payload = this.buf.subarray(at, at + len);
      this.buf = this.buf.subarray(at + len);
      if (opcode === 1) {
        const value = JSON.parse(payload.toString()) as AnyFrame | AnyFrame[];
        this.texts.push(...(Array.isArray(value) ? value : [value]));
      } else if (opcode === 8) {
        this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      }
    }
  }
}

describe('every close the server starts is bounded by the grace', () => {
  it('destroys a peer closed for bad input (4400) that never answers the close frame', async () => {
    const server = await startServer();
    const errors: number[] = [];
    server.on('protocol-error', (e) => errors.push(e.code));
    const peer = await DeafPeer.open(server.port);
    await peer.hello();
    peer.send('{"t":"msg",');
    await peer.until(() => peer.closeCode !== undefined, 'the close frame');
    expect(peer.closeCode).toBe(CloseCode.BadFrame);
    expect(errors).toEqual([CloseCode.BadFrame]);
    // ws alone would hold it for 30 s.
    await within(peer.closed, 'the server to destroy the socket');
  });

  it('destroys replaced sockets (4409) that never answer: 100 self-resumes', async () => {
    const server = await startServer();
    const first = await DeafPeer.open(server.port);
    const welcome = await first.hello();
    const resume = { sid: welcome.sid as string, token: welcome.token as string, seq: 0 };
    const peers = [first];
    const before = memory('before 100 self-resumes');
    for (let i = 0; i < 100; i++) {
      const peer = await DeafPeer.open(server.port);
      const w = await peer.hello({ resume });
      expect(w.resumed).toBe(true);
      resume.token = w.token as string;
      peers.push(peer);
    }
    memory('after 100 self-resumes');
    const replaced = peers.slice(0, -1);
    await within(Promise.all(replaced.map((p) => p.closed)), 'the 100 replaced sockets to be destroyed');
    expect(replaced.every((p) => p.closeCode === CloseCode.Replaced)).toBe(true);
    const after = memory('after the replaced sockets were destroyed');
    expect(after.rss - before.rss).toBeLessThan(64 * MiB);
    expect(server.sessions.size).toBe(1);
  });
});

/** Writes the first line of an HTTP request and waits, as a slow-loris client does. */
async function partialRequest(port: number, localAddress = '127.0.0.1'): Promise<Socket> {
  const socket = connect({ port, host: '127.0.0.1', localAddress });
  sockets.push(socket);
  socket.on('error', () => {});
  await within(once(socket, 'connect'), 'connect');
  socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`);
  return socket;
}

/** A `ws` client that reports how its upgrade ended: open, or refused with an HTTP status. */
function tryUpgrade(url: string, localAddress?: string): Promise<{ ws: WebSocket; status: number }> {
  const ws = new WebSocket(url, { localAddress });
  ws.on('error', () => {});
  sockets.push({ destroy: () => ws.terminate() } as unknown as Socket);
  return within(
    new Promise((resolve, reject) => {
      ws.once('open', () => resolve({ ws, status: 101 }));
      ws.once('unexpected-response', (_req, res) => resolve({ ws, status: res.statusCode ?? 0 }));
      ws.once('close', (code) => reject(new Error(`closed ${code} before open`)));
    }),
    'the upgrade',
  );
}

describe('handshake slots before the upgrade', () => {
  it('closes a partial HTTP request within handshakeTimeoutMs (Node alone: about 90 s)', async () => {
    const server = await startServer({ handshakeTimeoutMs: 200 });
    const socket = await partialRequest(server.port);
    await within(once(socket, 'close'), 'the partial request to be closed');
  });

  it('counts partial requests against maxPendingHandshakes', async () => {
    const server = await startServer({ maxPendingHandshakes: 3, handshakeTimeoutMs: 10_000, overloadRetryMs: 700 });
    const limit = nextEvent<LimitInfo>(server as never, 'limit');
    await partialRequest(server.port);
    await partialRequest(server.port);
    await RawClient.open(urlOf(server)); // upgraded, never says hello
    // Accepted in order after the others: by its upgrade the two partial requests hold slots.
    const extra = await RawClient.open(urlOf(server));
    expect(await extra.next((f) => f.t === 'bye')).toMatchObject({ code: CloseCode.TryAgainLater, retryMs: 700 });
    expect(await extra.closedWith()).toBe(CloseCode.TryAgainLater);
    expect(await limit).toMatchObject({ limit: 'pending-handshakes', code: CloseCode.TryAgainLater });
  });

  it('refuses a TCP connection with HTTP 503 at once when partial requests alone fill maxPendingHandshakes', async () => {
    const server = await startServer({ maxPendingHandshakes: 2, handshakeTimeoutMs: 10_000 });
    await partialRequest(server.port);
    await partialRequest(server.port);
    expect((await tryUpgrade(urlOf(server))).status).toBe(503);
  });

  it('bounds pending handshakes per address, so one address cannot lock out another', async () => {
    const server = await startServer({ maxPendingHandshakes: 100, maxPendingHandshakesPerAddress: 3, handshakeTimeoutMs: 10_000 });
    const limits: LimitInfo[] = [];
    server.on('limit', (info) => limits.push(info));
    // One address: two upgraded sockets that never say hello, one partial request.
    const idle = await RawClient.open(urlOf(server));
    await RawClient.open(urlOf(server));
    await partialRequest(server.port);
    const refused = await tryUpgrade(urlOf(server));
    expect(refused.status).toBe(503);
    expect(limits).toEqual([expect.objectContaining({ limit: 'pending-handshakes', code: 503, reason: expect.stringMatching(/3 handshakes pending from this address/) })]);
    // The global bound (100) is nowhere near: another address still gets in.
    const other = await tryUpgrade(urlOf(server), '127.0.0.2');
    expect(other.status).toBe(101);
    other.ws.send(JSON.stringify({ t: 'hello', v: 1 }));
    const [welcome] = (await within(once(other.ws, 'message'), 'welcome')) as [Buffer];
    expect(JSON.parse(welcome.toString())).toMatchObject({ t: 'welcome', resumed: false });
    // The first address gets in again once one of its handshakes finishes.
    await idle.hello();
    const { welcome: again } = await RawClient.connect(urlOf(server));
    expect(again.resumed).toBe(false);
  });

  it('validates maxPendingHandshakesPerAddress', async () => {
    const { createServer, serverDefaults } = await import('../src/index.js');
    expect(serverDefaults.maxPendingHandshakesPerAddress).toBe(64);
    for (const bad of [0, 1.5, -1, Number.NaN]) {
      expect(() => createServer({ handler: (d) => d, maxPendingHandshakesPerAddress: bad })).toThrow(TypeError);
    }
  });
});

describe('poisoned clocks', () => {
  it('takes a pong only when it answers the last ping the connection sent', async () => {
    const clocks: ClockEvent[] = [];
    const plugin: LifelinePlugin = { name: 'clock', onClock: (e) => clocks.push(e) };
    const server = await startServer({ heartbeatIntervalMs: 30, plugins: [plugin] });
    const { client } = await RawClient.connect(urlOf(server));
    client.send({ t: 'pong', ts: 1, at: Date.now() + 1e9 });
    client.sendMsgs([{ seq: 1, d: 'after the pong' }]);
    await client.acks(1);
    expect(clocks).toEqual([]);
    const ping = await client.next((f) => f.t === 'ping', 2_000);
    client.send({ t: 'pong', ts: ping.ts as number, at: Date.now() });
    client.send({ t: 'pong', ts: ping.ts as number, at: Date.now() + 1e9 }); // the same answer again
    client.sendMsgs([{ seq: 2, d: 'after the pongs' }]);
    await client.acks(1);
    expect(clocks).toHaveLength(1);
    expect(Math.abs((clocks[0] as ClockEvent).offsetMs)).toBeLessThan(1_000);
  });

  it("keeps a msg with ts 0 out of the server's delivery latency", async () => {
    const m = metrics();
    const server = await startServer({ plugins: [m] });
    const { client } = await RawClient.connect(urlOf(server));
    client.send([
      { t: 'msg', seq: 1, id: 'a', ts: 0, d: 1 },
      { t: 'msg', seq: 2, id: 'b', ts: Date.now() + 86_400_000, d: 2 },
      { t: 'msg', seq: 3, id: 'c', ts: Date.now(), d: 3 },
    ]);
    await client.acks(3);
    const s = m.snapshot({ side: 'server' });
    expect(s?.delivered).toBe(3);
    expect(s?.implausible).toBe(2);
    expect(s?.deliveryLatency.count).toBe(1);
    expect(s?.deliveryLatency.max).toBeLessThan(60_000); // was 8.9e9 ms with ts 0
  });
});
