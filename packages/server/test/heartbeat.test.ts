import { afterEach, describe, expect, it } from 'vitest';
import { RawClient, closeAll, onCleanup, poll, startProxy, startServer, urlOf } from '@lifeline/test-kit';
import type { LifelinePlugin } from '../src/index.js';

afterEach(closeAll);

/** Counts the server's pings on `client`, and sends a ping of its own every `everyMs` (never when undefined). */
function watch(client: RawClient, everyMs?: number): { readonly pings: number; readonly pongs: number } {
  const seen = { pings: 0, pongs: 0 };
  client.ws.on('message', (data) => {
    const parsed: unknown = JSON.parse(String(data));
    for (const f of (Array.isArray(parsed) ? parsed : [parsed]) as Array<{ t: string }>) {
      if (f.t === 'ping') seen.pings++;
      if (f.t === 'pong') seen.pongs++;
    }
  });
  if (everyMs !== undefined) {
    let ts = 0;
    const timer = setInterval(() => client.send({ t: 'ping', ts: ++ts }), everyMs);
    onCleanup(() => clearInterval(timer));
  }
  return seen;
}

describe('heartbeat', () => {
  // Interval 200 ms, timeout 2 s: the sweep runs every 50 ms, and a client pinging every 20 ms
  // is seen pinging at every sweep, far inside the interval even on a loaded machine.
  const options = { heartbeatIntervalMs: 200, heartbeatTimeoutMs: 2_000 };

  it("counts a client's answered ping as its own: a client that pings gets no ping, one that does not gets them", async () => {
    const server = await startServer(options);
    const { client: pinging } = await RawClient.connect(urlOf(server));
    const { client: silent } = await RawClient.connect(urlOf(server));
    const a = watch(pinging, 20);
    const b = watch(silent);
    await poll(() => b.pings >= 3, 'three pings to the client that does not ping', 10_000);
    expect(a.pongs).toBeGreaterThan(0);
    expect(a.pings).toBe(0);
  });

  it('still pings a client that pings when a plugin wants the clock samples of its own pings', async () => {
    const clocks: unknown[] = [];
    const plugin: LifelinePlugin = { name: 'clock', onClock: (e) => clocks.push(e) };
    const server = await startServer({ ...options, plugins: [plugin] });
    const { client } = await RawClient.connect(urlOf(server));
    const seen = watch(client, 20);
    await poll(() => seen.pings >= 2, 'two pings to a client that pings', 10_000);
  });
});

describe('heartbeat over the server\'s connections', () => {
  it('leaves a connection alone while its handshake runs, and watches it once open', async () => {
    let letIn: (() => void) | undefined;
    const server = await startServer({
      heartbeatIntervalMs: 50,
      heartbeatTimeoutMs: 200,
      handshakeTimeoutMs: 10_000,
      authenticate: (auth) => (auth === 'wait' ? new Promise<unknown>((resolve) => (letIn = () => resolve('who'))) : 'who'),
    });
    // One open connection keeps the sweep running while the other waits in its handshake.
    const { client: open } = await RawClient.connect(urlOf(server));
    const openSeen = watch(open);
    // It answers each ping, so the heartbeat keeps it.
    open.ws.on('message', (data) => {
      const parsed: unknown = JSON.parse(String(data));
      for (const f of (Array.isArray(parsed) ? parsed : [parsed]) as Array<{ t: string; ts: number }>) {
        if (f.t === 'ping') open.send({ t: 'pong', ts: f.ts, at: Date.now() });
      }
    });
    const waiting = await RawClient.open(urlOf(server));
    const waitingSeen = watch(waiting);
    waiting.send({ t: 'hello', v: 1, auth: 'wait' });
    await poll(() => letIn !== undefined, 'authenticate called', 5_000);
    // Many sweeps, and past the timeout: the open one is pinged; the silent one in its handshake
    // is neither pinged nor dropped (the handshake deadline is its bound, not the heartbeat).
    await poll(() => openSeen.pings >= 6, 'six pings to the open connection', 10_000);
    expect(waitingSeen.pings).toBe(0);
    expect(waiting.closeCode).toBeUndefined();
    letIn?.();
    await waiting.next((f) => f.t === 'welcome', 5_000);
    await poll(() => waitingSeen.pings >= 1, 'a ping once open', 10_000);
  });
});

describe('heartbeat on a slow link', () => {
  it('counts bytes as life: a message that takes four timeouts to arrive is handled, the connection kept', async () => {
    const handled: number[] = [];
    const server = await startServer({
      heartbeatIntervalMs: 50,
      heartbeatTimeoutMs: 300,
      maxPayloadBytes: 1 << 20,
      handler: (data) => {
        handled.push(String(data).length);
        return 'ok';
      },
    });
    const proxy = await startProxy(server.port);
    const client = await RawClient.open(proxy.url());
    await client.hello({ win: 64 });
    // 120 KB at 100 KB/s: 1.2 s for the one message, while no whole message arrives. Counted in
    // whole messages only, the server dropped the link after 300 ms (no frame for 300 ms).
    proxy.throttle(100_000);
    const started = performance.now();
    client.send({ t: 'msg', seq: 1, id: 'big', ts: 1, d: 'x'.repeat(120_000) });
    const ack = await client.next((f) => f.t === 'ack' || f.t === 'acks', 10_000);
    expect(performance.now() - started).toBeGreaterThan(900);
    expect(ack).toMatchObject({ seq: 1 });
    expect(handled).toEqual([120_000]);
    expect(client.ws.readyState).toBe(1);
  }, 20_000);
});
