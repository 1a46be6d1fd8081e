import { afterEach, describe, expect, it } from 'vitest';
import { RawClient, closeAll, onCleanup, poll, startServer, urlOf } from '@lifeline/test-kit';
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
