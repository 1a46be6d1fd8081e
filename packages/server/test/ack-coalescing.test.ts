import { afterEach, describe, expect, it } from 'vitest';
import { RawClient, closeAll, startServer, urlOf, type RawAck } from '@lifeline/test-kit';
import { memoryEngine, type ServerOptions } from '../src/index.js';

afterEach(closeAll);

const N = 100;

type Handler = ServerOptions['handler'];

/** Settles in a microtask of its own: an `async` handler that awaits nothing slow. */
const microtask: Handler = async (n) => {
  await Promise.resolve();
  return (n as number) * 10;
};

/** Settles in a later macrotask: each message's handler completes in its own turn of the event loop. */
const immediate: Handler = async (n) => {
  await new Promise((resolve) => setImmediate(resolve));
  return (n as number) * 10;
};

/**
 * Send `N` msgs in ONE WebSocket message and collect their acks; returns how many WebSocket
 * messages and ack frames carried them (seen from the wire by a raw client).
 */
async function burst(options: Partial<ServerOptions>, label: string): Promise<{ messages: number; frames: number }> {
  const server = await startServer(options);
  const { client } = await RawClient.connect(urlOf(server));
  const before = client.messages.length;
  client.sendMsgs(Array.from({ length: N }, (_, i) => ({ seq: i + 1, d: i + 1 })));
  const acks: RawAck[] = await client.acks(N, 10_000);
  // Every ack correct, in seq order, once.
  expect(acks).toEqual(Array.from({ length: N }, (_, i) => ({ seq: i + 1, r: (i + 1) * 10 })));
  const texts = client.messages.slice(before);
  const frames = texts.reduce((sum, text) => {
    const value = JSON.parse(text) as unknown;
    return sum + (Array.isArray(value) ? value.length : 1);
  }, 0);
  // Nothing else was answered (no duplicate ack trails behind).
  expect(client.pending.filter((f) => f.t === 'ack' || f.t === 'acks')).toEqual([]);
  console.log(`${label}: ${N} acks in ${texts.length} WebSocket messages, ${frames} frames (${Math.round((texts.length * 1000) / N)} messages per 1,000 acks)`);
  return { messages: texts.length, frames };
}

describe('acks of one batch leave together (issue 14)', () => {
  it('a handler settling in a microtask: the batch is answered in one WebSocket message', async () => {
    const { messages } = await burst({ handler: microtask }, 'in-process, microtask handler');
    expect(messages).toBeLessThanOrEqual(2);
  });

  it('a handler settling in a later macrotask: acks are coalesced per turn, at most one turn late', async () => {
    const { messages } = await burst({ handler: immediate }, 'in-process, setImmediate handler');
    expect(messages).toBeLessThanOrEqual(N / 2 + 1);
  });

  it('on a shared engine (memoryEngine) too', async () => {
    const engine = memoryEngine();
    const { messages } = await burst({ handler: microtask, engine }, 'memoryEngine, microtask handler');
    expect(messages).toBeLessThanOrEqual(5);
    await engine.close();
  });

  it('a lone message of an async handler is answered alone, at once', async () => {
    const server = await startServer({ handler: microtask });
    const { client } = await RawClient.connect(urlOf(server));
    for (let seq = 1; seq <= 3; seq++) {
      client.sendMsgs([{ seq, d: seq }]);
      expect(await client.next()).toEqual({ t: 'ack', seq, r: seq * 10 });
    }
  });
});
