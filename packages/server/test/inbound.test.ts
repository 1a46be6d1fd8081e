import { afterEach, describe, expect, it } from 'vitest';
import { RawClient, closeAll, gate, startServer, urlOf } from '@lifeline/test-kit';
import type { HandlerContext } from '../src/index.js';

afterEach(closeAll);

class CodedError extends Error {
  readonly code = 'E_FUNDS';
}

describe('client → server messages', () => {
  it("acks the handler's result, and an error with its code (ERR_HANDLER without one)", async () => {
    const server = await startServer({
      handler: (data) => {
        if (data === 'coded') throw new CodedError('not enough money');
        if (data === 'plain') throw new Error('boom');
        if (data === 'nothing') return undefined;
        return { echo: data };
      },
    });
    const { client } = await RawClient.connect(urlOf(server));
    client.sendMsgs([{ seq: 1, d: 'hi' }], false);
    expect(await client.next()).toEqual({ t: 'ack', seq: 1, r: { echo: 'hi' } });
    client.sendMsgs([{ seq: 2, d: 'coded' }], false);
    expect(await client.next()).toEqual({ t: 'ack', seq: 2, e: { code: 'E_FUNDS', message: 'not enough money' } });
    client.sendMsgs([{ seq: 3, d: 'plain' }], false);
    expect(await client.next()).toEqual({ t: 'ack', seq: 3, e: { code: 'ERR_HANDLER', message: 'boom' } });
    client.sendMsgs([{ seq: 4, d: 'nothing' }], false);
    expect(await client.next()).toEqual({ t: 'ack', seq: 4, r: null });
  });

  it('a rejected promise becomes an error ack', async () => {
    const server = await startServer({ handler: async () => Promise.reject(Object.assign(new Error('later'), { code: 'E_LATE' })) });
    const { client } = await RawClient.connect(urlOf(server));
    client.sendMsgs([{ seq: 1, d: 0 }]);
    expect(await client.next()).toEqual({ t: 'ack', seq: 1, e: { code: 'E_LATE', message: 'later' } });
  });

  it('coalesces the acks of a batch into one acks frame; an error cuts the run', async () => {
    const server = await startServer({
      handler: (n) => {
        if (n === 4) throw new Error('four');
        return (n as number) * 10;
      },
    });
    const { client } = await RawClient.connect(urlOf(server));
    const before = client.messages.length;
    client.sendMsgs([1, 2, 3, 4, 5, 6].map((n) => ({ seq: n, d: n })));
    expect(await client.next()).toEqual({ t: 'acks', seq: 1, r: [10, 20, 30] });
    expect(await client.next()).toEqual({ t: 'ack', seq: 4, e: { code: 'ERR_HANDLER', message: 'four' } });
    expect(await client.next()).toEqual({ t: 'acks', seq: 5, r: [50, 60] });
    // All of it in one WebSocket message.
    expect(client.messages.length - before).toBe(1);
  });

  it('accepts gaps in seq and treats anything at or below the mark as a duplicate', async () => {
    const calls: number[] = [];
    const server = await startServer({ handler: (_d, ctx) => void calls.push(ctx.seq) });
    const { client } = await RawClient.connect(urlOf(server));
    client.sendMsgs([{ seq: 2, d: 0 }, { seq: 5, d: 0 }, { seq: 3, d: 0 }]);
    expect(await client.acks(2)).toEqual([
      { seq: 2, r: null },
      { seq: 5, r: null },
    ]);
    // seq 3 never arrived before 5, so it is "processed long ago" from the server's point of view.
    expect(await client.next()).toMatchObject({ t: 'ack', seq: 3, e: { code: 'ERR_RESULT_EVICTED' } });
    expect(calls).toEqual([2, 5]);
  });

  it('answers a duplicate from the result cache without calling the handler again', async () => {
    const calls: string[] = [];
    const server = await startServer({
      handler: (d, ctx) => {
        calls.push(ctx.id);
        return { n: d, at: calls.length };
      },
    });
    const { client } = await RawClient.connect(urlOf(server));
    client.sendMsgs([{ seq: 1, d: 'a', id: 'order-1' }]);
    const first = await client.next();
    client.sendMsgs([{ seq: 1, d: 'a', id: 'order-1' }]);
    expect(await client.next()).toEqual(first);
    expect(calls).toEqual(['order-1']);
  });

  it('a duplicate of a message still being handled gets its ack when the handler finishes', async () => {
    const release = gate();
    let calls = 0;
    const server = await startServer({
      handler: async () => {
        calls++;
        await release.promise;
        return 'done';
      },
    });
    const { client } = await RawClient.connect(urlOf(server));
    client.sendMsgs([{ seq: 1, d: 0 }]);
    client.sendMsgs([{ seq: 1, d: 0 }]);
    client.send({ t: 'ping', ts: 1 });
    await client.next((f) => f.t === 'pong'); // both msgs were read before this
    release.open();
    expect(await client.next()).toEqual({ t: 'ack', seq: 1, r: 'done' });
    expect(calls).toBe(1);
  });

  it('got: the outcomes up to its seq leave the cache; the ones after it stay', async () => {
    let calls = 0;
    const server = await startServer({ handler: () => ++calls });
    const { client, welcome } = await RawClient.connect(urlOf(server));
    expect(welcome.got).toBe(true);
    client.sendMsgs([1, 2, 3, 4].map((seq) => ({ seq, d: 0 })));
    await client.acks(4);
    client.send({ t: 'got', seq: 2 });
    client.sendMsgs([{ seq: 2, d: 0 }, { seq: 3, d: 0 }]);
    const [forgotten, kept] = await client.acks(2);
    // Forgotten, yet never handled twice.
    expect(forgotten).toMatchObject({ seq: 2, e: { code: 'ERR_RESULT_EVICTED' } });
    expect(kept).toEqual({ seq: 3, r: 3 });
    // A got past every seq handled so far empties the cache, and the session carries on.
    client.send({ t: 'got', seq: 1_000 });
    client.sendMsgs([{ seq: 5, d: 0 }]);
    expect(await client.acks(1)).toEqual([{ seq: 5, r: 5 }]);
    client.sendMsgs([{ seq: 5, d: 0 }]);
    expect(await client.acks(1)).toEqual([{ seq: 5, r: 5 }]);
    expect(calls).toBe(5);
  });

  it('evicted results are answered with ERR_RESULT_EVICTED, not handled again', async () => {
    let calls = 0;
    const server = await startServer({ maxInFlight: 2, handler: () => ++calls });
    const { client } = await RawClient.connect(urlOf(server));
    client.sendMsgs([1, 2, 3, 4].map((seq) => ({ seq, d: 0 })));
    await client.acks(4);
    client.sendMsgs([{ seq: 1, d: 0 }, { seq: 4, d: 0 }]);
    const [old, recent] = await client.acks(2);
    expect(old).toMatchObject({ seq: 1, e: { code: 'ERR_RESULT_EVICTED' } });
    expect(recent).toEqual({ seq: 4, r: 4 });
    expect(calls).toBe(4);
  });

  it('calls an async handler one message at a time, in seq order', async () => {
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const server = await startServer({
      handler: async (d: unknown, ctx: HandlerContext) => {
        running++;
        most = Math.max(most, running);
        // Later messages finish sooner if they were allowed to overlap.
        await new Promise((r) => setTimeout(r, (10 - ctx.seq) * 2));
        order.push(d as number);
        running--;
        return d;
      },
    });
    const { client } = await RawClient.connect(urlOf(server));
    client.sendMsgs([1, 2, 3, 4, 5, 6, 7, 8].map((n) => ({ seq: n, d: n })), false);
    const acks = await client.acks(8);
    expect(acks.map((a) => a.r)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(order).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(most).toBe(1);
  });

  it('a result JSON cannot encode becomes an error ack', async () => {
    const server = await startServer({ handler: () => ({ big: 1n }) });
    const { client } = await RawClient.connect(urlOf(server));
    client.sendMsgs([{ seq: 1, d: 0 }]);
    expect(await client.next()).toMatchObject({ t: 'ack', seq: 1, e: { code: 'ERR_HANDLER' } });
  });

  it('gives the handler the session, the id, the seq and redelivered: false', async () => {
    const seen: Array<[string, string, number, boolean]> = [];
    const server = await startServer({ handler: (_d, ctx) => void seen.push([ctx.session.id, ctx.id, ctx.seq, ctx.redelivered]) });
    const { client, welcome } = await RawClient.connect(urlOf(server));
    client.sendMsgs([{ seq: 7, d: 0, id: 'my-id' }]);
    await client.acks(1);
    expect(seen).toEqual([[welcome.sid, 'my-id', 7, false]]);
  });

  it('never flags a retransmission or a resumed message as redelivered on the memory engine', async () => {
    const seen: boolean[] = [];
    const server = await startServer({ handler: (_d, ctx) => void seen.push(ctx.redelivered) });
    const { client } = await RawClient.connect(urlOf(server));
    client.sendMsgs([{ seq: 1, d: 0 }, { seq: 2, d: 0 }]);
    await client.acks(2);
    client.sendMsgs([{ seq: 2, d: 0 }, { seq: 3, d: 0 }]);
    await client.acks(2);
    expect(seen).toEqual([false, false, false]);
  });
});
