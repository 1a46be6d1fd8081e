import { describe, expect, it } from 'vitest';
import type { Json } from '@lifeline/protocol';
import { client, fakeServer, useFixtures } from './helpers.js';

useFixtures();

const N = 100;

describe('cacks of one batch leave together (issue 14, client side)', () => {
  it.each([
    ['messages()', 'iterator'],
    ['receive() in a loop', 'receive'],
  ] as const)('a batch of %s taken one by one is acknowledged in a few WebSocket messages', async (_label, how) => {
    const server = await fakeServer();
    const c = client({ url: server.url });
    await c.connect();
    const conn = await server.conn(1);
    const before = conn.raw.length;
    conn.push(...Array.from({ length: N }, (_, i) => i + 1));
    const seen: Json[] = [];
    if (how === 'iterator') {
      for await (const data of c.messages()) {
        seen.push(data);
        if (seen.length === N) break;
      }
    } else {
      while (seen.length < N) seen.push(await c.receive({ timeoutMs: 5_000 }));
    }
    expect(seen).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    await server.until(() => conn.session.cacked === N);
    const cacks = conn.frames.filter((f) => f.t === 'cack').map((f) => f.seq as number);
    const messages = conn.raw.length - before;
    console.log(`${how}: ${N} deliveries acknowledged by ${cacks.length} cacks in ${messages} WebSocket messages`);
    // Cumulative and increasing, ending at N.
    expect(cacks.at(-1)).toBe(N);
    expect(cacks).toEqual([...cacks].sort((a, b) => a - b));
    expect(messages).toBeLessThanOrEqual(5);
  });
});
