import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CloseCode, type ClockEvent, type LifelinePlugin } from '@lifeline/protocol';
import { metrics } from '@lifeline/metrics';
import { MiB, RawClient, WireClient, closeAll, memory, nextEvent, onCleanup, startServer, urlOf, within } from '@lifeline/test-kit';
import type { LimitInfo } from '../src/index.js';

/** Well under ws's own 30 s close timeout, well over the 1 s grace: a bound, not a timing. */
const GRACE_BOUND_MS = 8_000;

afterEach(closeAll);

/** A peer that speaks WebSocket by hand and never answers a close frame (nor a ping). */
const deafPeer = (port: number): Promise<WireClient> => WireClient.connect(port, { deaf: true, timeoutMs: GRACE_BOUND_MS });

describe('every close the server starts is bounded by the grace', () => {
  it('destroys a peer closed for bad input (4400) that never answers the close frame', async () => {
    const server = await startServer();
    const errors: number[] = [];
    server.on('protocol-error', (e) => errors.push(e.code));
    const peer = await deafPeer(server.port);
    await peer.hello();
    peer.send('{"t":"msg",');
    await peer.closedWith(GRACE_BOUND_MS); // the close frame
    expect(peer.closeCode).toBe(CloseCode.BadFrame);
    expect(errors).toEqual([CloseCode.BadFrame]);
    // ws alone would hold it for 30 s.
    await within(peer.closed, 'the server to destroy the socket', GRACE_BOUND_MS);
  });

  it('destroys replaced sockets (4409) that never answer: 100 self-resumes', async () => {
    const server = await startServer();
    const first = await deafPeer(server.port);
    const welcome = await first.hello();
    const resume = { sid: welcome.sid as string, token: welcome.token as string, seq: 0 };
    const peers = [first];
    const before = memory('before 100 self-resumes');
    for (let i = 0; i < 100; i++) {
      const peer = await deafPeer(server.port);
      const w = await peer.hello({ resume });
      expect(w.resumed).toBe(true);
      resume.token = w.token as string;
      peers.push(peer);
    }
    memory('after 100 self-resumes');
    const replaced = peers.slice(0, -1);
    await within(Promise.all(replaced.map((p) => p.closed)), 'the 100 replaced sockets to be destroyed', GRACE_BOUND_MS);
    expect(replaced.every((p) => p.closeCode === CloseCode.Replaced)).toBe(true);
    const after = memory('after the replaced sockets were destroyed');
    expect(after.rss - before.rss).toBeLessThan(64 * MiB);
    expect(server.sessions.size).toBe(1);
  });
});

/** Writes the first line of an HTTP request and waits, as a slow-loris client does. */
async function partialRequest(port: number, localAddress = '127.0.0.1'): Promise<Socket> {
  const socket = connect({ port, host: '127.0.0.1', localAddress });
  onCleanup(() => socket.destroy());
  socket.on('error', () => {});
  await within(once(socket, 'connect'), 'connect', GRACE_BOUND_MS);
  socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`);
  return socket;
}

/** A `ws` client that reports how its upgrade ended: open, or refused with an HTTP status. */
function tryUpgrade(url: string, localAddress?: string): Promise<{ ws: WebSocket; status: number }> {
  const ws = new WebSocket(url, { localAddress });
  ws.on('error', () => {});
  onCleanup(() => ws.terminate());
  return within(
    new Promise((resolve, reject) => {
      ws.once('open', () => resolve({ ws, status: 101 }));
      ws.once('unexpected-response', (_req, res) => resolve({ ws, status: res.statusCode ?? 0 }));
      ws.once('close', (code) => reject(new Error(`closed ${code} before open`)));
    }),
    'the upgrade',
    GRACE_BOUND_MS,
  );
}

describe('handshake slots before the upgrade', () => {
  it('closes a partial HTTP request within handshakeTimeoutMs (Node alone: about 90 s)', async () => {
    const server = await startServer({ handshakeTimeoutMs: 200 });
    const socket = await partialRequest(server.port);
    await within(once(socket, 'close'), 'the partial request to be closed', GRACE_BOUND_MS);
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
    const [welcome] = (await within(once(other.ws, 'message'), 'welcome', GRACE_BOUND_MS)) as [Buffer];
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
