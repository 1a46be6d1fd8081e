import { afterEach, describe, expect, it } from 'vitest';
import { UnauthorizedError, type GapInfo, type Json, type PublicationMeta, type Subscription } from '@lifeline/sdk';
import { client, closeAll, nextEvent, reach, startProxy, startServer, until, urlOf, within } from '@lifeline/test-kit';

afterEach(closeAll);

const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

/** Every publication `sub` delivers to a listener, as offsets and data. */
function collect(sub: Subscription): { offsets: number[]; data: Json[]; metas: PublicationMeta[] } {
  const out = { offsets: [] as number[], data: [] as Json[], metas: [] as PublicationMeta[] };
  sub.on('publication', (data, meta) => {
    out.offsets.push(meta.offset);
    out.data.push(data);
    out.metas.push(meta);
  });
  return out;
}

async function publishAll(server: { publish(ch: string, d: unknown): Promise<{ offset: number }> }, ch: string, from: number, to: number): Promise<void> {
  for (let n = from; n <= to; n++) await server.publish(ch, { n });
}

/** A server, one connected client, and its subscription to `channel`, ready, with what it delivers collected. */
async function subscribed(channel: string, options?: Parameters<typeof startServer>[0]) {
  const server = await startServer(options);
  const c = client(urlOf(server));
  await c.connect({ timeoutMs: 5_000 });
  const sub = c.subscribe(channel);
  const got = collect(sub);
  await sub.ready({ timeoutMs: 5_000 });
  return { server, c, sub, got };
}

describe('channels (guarantee 9), client side', () => {
  it('subscribe, ready, then publications 1..N in order with their meta', async () => {
    const { server, sub, got } = await subscribed('room:1');
    const N = 300;
    const results = await Promise.all(range(1, N).map((n) => server.publish('room:1', { n })));
    await until(sub, 'publication', () => got.offsets.length >= N);
    expect(got.offsets).toEqual(range(1, N));
    expect(got.data).toEqual(range(1, N).map((n) => ({ n })));
    const epoch = results[0]?.epoch as string;
    expect(got.metas.every((m) => m.channel === 'room:1' && m.epoch === epoch && typeof m.publishedAt === 'number')).toBe(true);
    expect(sub.position).toEqual({ offset: N, epoch });
  });

  it('a server window smaller than the client\'s: the client packs by the server\'s (subok.win), so 400 publications never wait for the pack timer', async () => {
    // The server stops at its own window (8) beyond the last pack. A client pacing its lazy pack
    // by its own window (256: a pack after 128) would stall at every 8 until its 5 s timer.
    const { server, sub, got } = await subscribed('room:w', { channels: { window: 8 } });
    const N = 400;
    await Promise.all(range(1, N).map((n) => server.publish('room:w', { n })));
    // 50 windows: a stall at each would take 250 s; paced right, it takes milliseconds.
    await until(sub, 'publication', () => got.offsets.length >= N, 10_000, `${N} publications through a window of 8`);
    expect(got.offsets).toEqual(range(1, N));
  });

  it('publications() yields { data, meta } in order and ends on unsubscribe()', async () => {
    const server = await startServer();
    const c = client(urlOf(server));
    const sub = c.subscribe('prices/EURUSD'); // before connect(): subscribes once connected
    await c.connect({ timeoutMs: 5_000 });
    await sub.ready({ timeoutMs: 5_000 });
    await publishAll(server, 'prices/EURUSD', 1, 50);
    const seen: number[] = [];
    for await (const { data, meta } of sub.publications()) {
      expect(data).toEqual({ n: meta.offset });
      seen.push(meta.offset);
      if (seen.length === 50) void sub.unsubscribe();
    }
    expect(seen).toEqual(range(1, 50));
    expect(sub.active).toBe(false);
    // Unsubscribed: the server sends nothing more, and the channel can be subscribed again.
    await server.publish('prices/EURUSD', { n: 51 });
    const again = c.subscribe('prices/EURUSD');
    await again.ready({ timeoutMs: 5_000 });
    expect(again.position?.offset).toBe(51);
  });

  it('close() ends the iterator and rejects ready()', async () => {
    const server = await startServer({ channels: { authorize: async () => new Promise<boolean>(() => {}) } });
    const c = client(urlOf(server));
    await c.connect({ timeoutMs: 5_000 });
    const sub = c.subscribe('room:never');
    const it = sub.publications();
    const next = it.next();
    const ready = sub.ready({ timeoutMs: 5_000 });
    await c.close();
    expect(await next).toEqual({ done: true, value: undefined });
    await expect(ready).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });

  it('since a saved position: exactly the publications missed, then live ones', async () => {
    const server = await startServer();
    const a = client(urlOf(server));
    await a.connect({ timeoutMs: 5_000 });
    const first = a.subscribe('room:2');
    const firstGot = collect(first);
    await first.ready({ timeoutMs: 5_000 });
    await publishAll(server, 'room:2', 1, 10);
    await until(first, 'publication', () => firstGot.offsets.length >= 10);
    const saved = first.position;
    await a.close();
    await publishAll(server, 'room:2', 11, 20);

    const b = client(urlOf(server));
    await b.connect({ timeoutMs: 5_000 });
    const sub = b.subscribe('room:2', { since: saved });
    const got = collect(sub);
    const gaps: GapInfo[] = [];
    sub.on('gap', (g) => gaps.push(g));
    await sub.ready({ timeoutMs: 5_000 });
    expect(got.offsets).toEqual(range(11, 20)); // ready: caught up to the subscribe point
    await publishAll(server, 'room:2', 21, 25);
    await until(sub, 'publication', () => got.offsets.length >= 15);
    expect(got.offsets).toEqual(range(11, 25));
    expect(gaps).toEqual([]);
  });

  it('a lapsed position (history smaller than what was missed): one gap first, then the rest', async () => {
    const server = await startServer({ channels: { historySize: 5 } });
    await publishAll(server, 'room:3', 1, 10);
    const page = await server.history('room:3');
    await publishAll(server, 'room:3', 11, 30);
    const c = client(urlOf(server));
    await c.connect({ timeoutMs: 5_000 });
    const sub = c.subscribe('room:3', { since: { offset: 10, epoch: page.epoch } });
    const events: Array<string | number> = [];
    const gaps: GapInfo[] = [];
    sub.on('gap', (g) => {
      gaps.push(g);
      events.push('gap');
    });
    sub.on('publication', (_d, m) => events.push(m.offset));
    await sub.ready({ timeoutMs: 5_000 });
    expect(gaps).toEqual([{ channel: 'room:3', from: 11, to: 25, reason: 'evicted' }]);
    expect(events).toEqual(['gap', ...range(26, 30)]);
    expect(sub.position).toEqual({ offset: 30, epoch: page.epoch });
  });

  it('unauthorized: ready() rejects with UnauthorizedError; other subscriptions are untouched', async () => {
    const server = await startServer({ channels: { authorize: (_s, ch) => !ch.startsWith('secret') } });
    const c = client(urlOf(server));
    await c.connect({ timeoutMs: 5_000 });
    const open = c.subscribe('room:4');
    const got = collect(open);
    const secret = c.subscribe('secret:1');
    const errors: unknown[] = [];
    secret.on('error', (e) => errors.push(e));
    await expect(secret.ready({ timeoutMs: 5_000 })).rejects.toBeInstanceOf(UnauthorizedError);
    expect(secret.active).toBe(false);
    expect(errors).toHaveLength(1);
    await open.ready({ timeoutMs: 5_000 });
    await publishAll(server, 'room:4', 1, 5);
    await server.publish('secret:1', { n: 1 });
    await until(open, 'publication', () => got.offsets.length >= 5);
    expect(got.offsets).toEqual(range(1, 5));
    expect(c.state).toBe('open');
  });

  it('idempotent publish: the same id twice is stored once and delivered once', async () => {
    const server = await startServer();
    const c = client(urlOf(server));
    await c.connect({ timeoutMs: 5_000 });
    const sub = c.subscribe('orders@desk=fx');
    const got = collect(sub);
    await sub.ready({ timeoutMs: 5_000 });
    const one = await server.publish('orders@desk=fx', { n: 1 }, { id: 'order-1' });
    const two = await server.publish('orders@desk=fx', { n: 1 }, { id: 'order-1' });
    const three = await server.publish('orders@desk=fx', { n: 2 });
    expect(two).toEqual(one);
    expect(three.offset).toBe(one.offset + 1);
    await until(sub, 'publication', () => got.offsets.length >= 2);
    expect(got.offsets).toEqual([1, 2]);
    expect(got.metas[0]?.id).toBe('order-1');
  });

  it('presence: a drop that resumes makes no leave; a close does', async () => {
    const server = await startServer();
    const proxy = await startProxy(server.port);
    const a = client(urlOf(server));
    await a.connect({ timeoutMs: 5_000 });
    const subA = a.subscribe('room:5');
    await subA.ready({ timeoutMs: 5_000 });
    const joins: string[] = [];
    const leaves: string[] = [];
    subA.on('join', (m) => joins.push(m.sessionId));
    subA.on('leave', (m) => leaves.push(m.sessionId));

    const b = client(proxy.url());
    await b.connect({ timeoutMs: 5_000 });
    const subB = b.subscribe('room:5');
    const gotB = collect(subB);
    await subB.ready({ timeoutMs: 5_000 });
    await until(subA, 'join', () => joins.length >= 1);
    expect(joins).toEqual([b.sessionId]);
    const members = await subB.presence({ timeoutMs: 5_000 });
    expect(members.map((m) => m.sessionId).sort()).toEqual([a.sessionId, b.sessionId].sort());

    const resumed = nextEvent(b, 'resumed');
    proxy.cutAll();
    await resumed;
    await reach(b, 'open');
    await server.publish('room:5', { n: 1 });
    await until(subB, 'publication', () => gotB.offsets.length >= 1);
    expect(gotB.offsets).toEqual([1]);
    // A's presence after B's resume: still both, and no leave nor second join came.
    const after = await subA.presence({ timeoutMs: 5_000 });
    expect(after.map((m) => m.sessionId).sort()).toEqual([a.sessionId, b.sessionId].sort());
    expect(leaves).toEqual([]);
    expect(joins).toEqual([b.sessionId]);

    const sessionB = b.sessionId;
    await b.close();
    await until(subA, 'leave', () => leaves.length >= 1);
    expect(leaves).toEqual([sessionB]);
  });

  it('a full hold withholds pack: the server stops, nothing is dropped, the reader gets 1..N once it reads', async () => {
    const server = await startServer({ channels: { historySize: 1_000 } });
    const c = client(urlOf(server));
    await c.connect({ timeoutMs: 5_000 });
    // Three 1 kB publications fill the byte bound well before the window of 16.
    const sub = c.subscribe('room:slow', { window: 16, maxBufferedBytes: 3_500 });
    await sub.ready({ timeoutMs: 5_000 });
    const N = 100;
    const payload = 'y'.repeat(1_000);
    await Promise.all(range(1, N).map((n) => server.publish('room:slow', { n, payload })));
    const gaps: GapInfo[] = [];
    sub.on('gap', (g) => gaps.push(g));
    const seen: number[] = [];
    let maxHeld = 0;
    for await (const { meta } of sub.publications()) {
      maxHeld = Math.max(maxHeld, sub.buffered);
      seen.push(meta.offset);
      if (seen.length === N) break;
    }
    expect(seen).toEqual(range(1, N));
    expect(gaps).toEqual([]);
    expect(maxHeld).toBeLessThanOrEqual(4);
  });

  it('ERR_CHANNEL_UNAVAILABLE: the client subscribes again with backoff until it is served', async () => {
    let asked = 0;
    const server = await startServer({
      channels: {
        authorize: () => {
          if (++asked <= 2) throw new Error('the authorization service is down');
          return true;
        },
      },
    });
    server.on('error', () => {});
    const c = client(urlOf(server));
    await c.connect({ timeoutMs: 5_000 });
    const sub = c.subscribe('room:retry');
    await sub.ready({ timeoutMs: 10_000 });
    expect(asked).toBe(3);
    await server.publish('room:retry', 'hello');
    const [data] = await within(new Promise<[Json]>((resolve) => sub.once('publication', (d) => resolve([d]))), 'the publication');
    expect(data).toBe('hello');
  });

  it('unsubscribe() while offline sends unsub after the reconnect (the others see the leave)', async () => {
    const server = await startServer();
    const proxy = await startProxy(server.port);
    const a = client(urlOf(server));
    await a.connect({ timeoutMs: 5_000 });
    const subA = a.subscribe('room:6');
    await subA.ready({ timeoutMs: 5_000 });
    const leaves: string[] = [];
    subA.on('leave', (m) => leaves.push(m.sessionId));
    const b = client(proxy.url());
    await b.connect({ timeoutMs: 5_000 });
    const subB = b.subscribe('room:6');
    await subB.ready({ timeoutMs: 5_000 });

    proxy.refuse();
    const down = nextEvent(b, 'disconnect');
    proxy.cutAll();
    await down;
    await subB.unsubscribe();
    expect(leaves).toEqual([]); // the server has not heard of it yet: the session is only detached
    proxy.refuse(false);
    await reach(b, 'open');
    await until(subA, 'leave', () => leaves.length >= 1);
    expect(leaves).toEqual([b.sessionId]);
  });
});
