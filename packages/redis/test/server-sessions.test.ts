import { afterEach, describe, expect, it } from 'vitest';
import type { HandlerContext, LifelineServer } from '@lifeline/server';
import { RawClient, client, closeAll, gate, nextEvent, nextSession, startProxy, startServer, urlOf, type AnyFrame } from '@lifeline/test-kit';
import { redisEngine, type RedisEngine } from '../src/index.js';
import { fixturePerTest, until } from './kit.js';
import { killRedisServers, startRedis, startRedisOnFreePort } from './own-redis.js';

// Guarantee 10 through the server: two or three Lifeline servers ("nodes") in this process, each
// with its own redisEngine over one Redis and one key prefix. A client moves between them by
// reconnecting with its url changed, or through a fault proxy whose target is switched.

const f = fixturePerTest();

const node = (options: Parameters<typeof startServer>[0] = {}): Promise<LifelineServer> =>
  startServer({ engine: f().engine(), nodeTimeoutMs: 600, overloadRetryMs: 20, ...options });

/** A raw client that says hello on `url` (resuming `resume` when given) and returns its welcome or first close. */
async function hello(url: string, resume?: { sid: string; token: string; seq: number }): Promise<{ client: RawClient; welcome: AnyFrame }> {
  const c = await RawClient.open(url);
  c.send({ t: 'hello', v: 1, win: 64, ...(resume === undefined ? {} : { resume }) });
  const welcome = await c.next((fr) => fr.t === 'welcome' || fr.t === 'bye', 5_000);
  return { client: c, welcome };
}

describe('sessions on redisEngine, across nodes', () => {
  it('a client resumes on another node: unacked pushes are resent once, an in-flight send gets its result once', async () => {
    const release = gate();
    const handled: string[] = [];
    const handler = async (data: unknown, ctx: HandlerContext) => {
      handled.push(ctx.id);
      if (data === 'slow') await release.promise;
      return { echo: data };
    };
    const a = await node({ handler });
    const b = await node({ handler });
    const opened = nextSession(a);
    const { client: one, welcome } = await hello(urlOf(a));
    expect(welcome).toMatchObject({ t: 'welcome', resumed: false });
    const session = await opened;
    for (let i = 1; i <= 3; i++) void session.send({ push: i });
    const pushes: AnyFrame[] = [];
    while (pushes.length < 3) pushes.push(await one.next((fr) => fr.t === 'msg', 5_000));
    expect(pushes.map((p) => p.seq)).toEqual([1, 2, 3]);
    // The client takes push 1 only, and sends a message whose handler is still running on A when it leaves.
    one.send({ t: 'cack', seq: 1 });
    one.send({ t: 'msg', seq: 1, id: 'm1', ts: 1, d: 'slow' });
    await until('the handler to start on A', () => handled.length === 1);
    one.ws.terminate();

    const { client: two, welcome: again } = await hello(urlOf(b), { sid: welcome.sid, token: welcome.token, seq: 1 });
    expect(again).toMatchObject({ t: 'welcome', resumed: true, seq: 1 });
    const resent: AnyFrame[] = [];
    while (resent.length < 2) resent.push(await two.next((fr) => fr.t === 'msg', 5_000));
    expect(resent.map((p) => [p.seq, p.d])).toEqual([[2, { push: 2 }], [3, { push: 3 }]]);
    // A's connection is dropped: A no longer holds the session.
    await until("A to drop its copy", () => !a.sessions.has(welcome.sid) || a.sessions.get(welcome.sid)?.state !== 'attached');
    two.send({ t: 'msg', seq: 1, id: 'm1', ts: 1, d: 'slow' });
    release.open();
    const [ack] = await two.acks(1, 5_000);
    expect(ack).toMatchObject({ seq: 1, r: { echo: 'slow' } });
    expect(handled).toEqual(['m1']);
    two.send({ t: 'cack', seq: 3 });
    two.send({ t: 'msg', seq: 2, id: 'm2', ts: 1, d: 'fast' });
    expect((await two.acks(1, 5_000))[0]).toMatchObject({ seq: 2, r: { echo: 'fast' } });
    expect(handled).toEqual(['m1', 'm2']);
    // Nothing more was resent on B.
    expect(two.pending.filter((fr) => fr.t === 'msg')).toEqual([]);
  });

  it('a handler on a node closed mid-run is handed over once, with ctx.redelivered === true', async () => {
    const calls: Array<{ node: string; id: string; redelivered: boolean }> = [];
    const never = gate();
    const a = await node({ handler: async (_d, ctx) => (calls.push({ node: 'a', id: ctx.id, redelivered: ctx.redelivered }), never.promise) });
    const b = await node({ handler: (_d, ctx) => (calls.push({ node: 'b', id: ctx.id, redelivered: ctx.redelivered }), 'done') });
    const { client: one, welcome } = await hello(urlOf(a));
    one.send({ t: 'msg', seq: 1, id: 'x', ts: 1, d: 1 });
    await until('the handler to run on A', () => calls.length === 1);
    await a.close({ timeoutMs: 50 });
    const { client: two, welcome: again } = await hello(urlOf(b), { sid: welcome.sid, token: welcome.token, seq: 0 });
    expect(again).toMatchObject({ resumed: true, seq: 1 });
    two.send({ t: 'msg', seq: 1, id: 'x', ts: 1, d: 1 });
    expect((await two.acks(1, 5_000))[0]).toMatchObject({ seq: 1, r: 'done' });
    two.send({ t: 'msg', seq: 1, id: 'x', ts: 1, d: 1 });
    two.send({ t: 'msg', seq: 2, id: 'y', ts: 1, d: 2 });
    // The copy of seq 1 is answered from the stored outcome (once on this connection), never handled again.
    const acks = await two.acks(2, 5_000);
    expect(acks).toEqual([expect.objectContaining({ seq: 1, r: 'done' }), expect.objectContaining({ seq: 2, r: 'done' })]);
    expect(calls).toEqual([
      { node: 'a', id: 'x', redelivered: false },
      { node: 'b', id: 'x', redelivered: true },
      { node: 'b', id: 'y', redelivered: false },
    ]);
    never.open();
  });

  it('two nodes resuming the same session at once: one wins, the other is told to retry (1013)', async () => {
    const a = await node();
    const b = await node();
    const c = await node();
    const { client: first, welcome } = await hello(urlOf(a));
    first.ws.terminate();
    await until('the session to detach', async () => (await f().engine().sessions.get(welcome.sid))?.holder === null);
    const resume = { sid: welcome.sid, token: welcome.token, seq: 0 };
    const [x, y] = await Promise.all([hello(urlOf(b), resume), hello(urlOf(c), resume)]);
    const answers = [x.welcome, y.welcome];
    expect(answers.filter((w) => w.t === 'welcome' && w.resumed === true)).toHaveLength(1);
    expect(answers.filter((w) => w.t === 'bye')).toEqual([expect.objectContaining({ code: 1013 })]);
  });

  it('the SDK moves between nodes through a switched proxy: every send resolves once, pushes arrive once', async () => {
    const handled = new Map<string, number>();
    const handler = (data: unknown, ctx: HandlerContext) => (handled.set(ctx.id, (handled.get(ctx.id) ?? 0) + 1), data);
    const nodes = [await node({ handler }), await node({ handler }), await node({ handler })];
    const proxy = await startProxy(nodes[0]!.port);
    const c = client(proxy.url());
    const got: unknown[] = [];
    c.on('message', (d) => got.push(d));
    const lost: unknown[] = [];
    c.on('session-lost', (info) => lost.push(info));
    await c.connect();
    const sends: Promise<unknown>[] = [];
    for (let round = 1; round <= 6; round++) {
      for (let i = 0; i < 20; i++) sends.push(c.send({ round, i }));
      proxy.setTarget({ port: nodes[round % 3]!.port });
      proxy.cutAll();
      await nextEvent(c, 'resumed', 5_000);
    }
    const results = await Promise.all(sends);
    expect(results).toHaveLength(120);
    expect([...handled.values()].every((n) => n === 1)).toBe(true);
    expect(handled.size).toBe(120);
    expect(lost).toEqual([]);
    // A push from whichever node holds the session now reaches the client once.
    const holder = nodes.find((n) => [...n.sessions.values()].some((s) => s.state === 'attached'));
    const session = [...holder!.sessions.values()].find((s) => s.state === 'attached')!;
    await session.send('hello');
    expect(got).toEqual(['hello']);
  });
});

describe('Redis unreachable', () => {
  it('behind a proxy that refuses and cuts Redis: 1013, nothing answered unrecorded, and the flow resumes by itself', async () => {
    const redisProxy = await startProxy(6379);
    const engine = redisEngine({ url: `redis://127.0.0.1:${redisProxy.port}`, keyPrefix: f().prefix, commandTimeoutMs: 300, onError: () => {} });
    const handled = new Map<string, number>();
    const server = await startServer({ engine, overloadRetryMs: 50, handler: (d, ctx) => (handled.set(ctx.id, (handled.get(ctx.id) ?? 0) + 1), d) });
    const errors: unknown[] = [];
    server.on('error', (e) => errors.push(e));
    const c = client(urlOf(server));
    await c.connect();
    expect(await c.send('before')).toBe('before');
    redisProxy.refuse(true);
    redisProxy.cutAll();
    const during = [c.send('during-1'), c.send('during-2')];
    await until('the engine failures to be reported', () => errors.length > 0, 10_000);
    expect(handled.has('during-1')).toBe(false);
    redisProxy.refuse(false);
    redisProxy.heal();
    expect(await Promise.all(during)).toEqual(['during-1', 'during-2']);
    expect([...handled.values()].every((n) => n === 1)).toBe(true);
    expect(handled.size).toBe(3);
    await engine.close();
  }, 30_000);
});

afterEach(killRedisServers);

describe('Redis restarted with its data lost', () => {
  it('a resume finds no session: a new one, and the client reports session-lost', async () => {
    const { port, child: redis } = await startRedisOnFreePort();
    const engines: RedisEngine[] = [];
    try {
      const engine = redisEngine({ url: `redis://127.0.0.1:${port}`, keyPrefix: 'restart:', commandTimeoutMs: 300, onError: () => {} });
      engines.push(engine);
      const server = await startServer({ engine, overloadRetryMs: 50 });
      server.on('error', () => {});
      const proxy = await startProxy(server.port);
      const c = client(proxy.url());
      await c.connect();
      expect(await c.send(1)).toBe(1);
      const exited = new Promise((r) => redis.once('exit', r));
      redis.kill('SIGKILL');
      await exited;
      await startRedis(port);
      const lost = nextEvent(c, 'session-lost', 10_000);
      proxy.cutAll();
      await lost;
      expect(await c.send(2)).toBe(2);
    } finally {
      await closeAll();
      for (const e of engines) await e.close();
    }
  }, 30_000);
});

describe('hello.nonce on redisEngine', () => {
  it("a welcome lost on A: the same nonce on B gets that session, with A's push; once heard from, the nonce alone gets another", async () => {
    const a = await node();
    const b = await node();
    const nonce = 'lost-welcome-nonce-01';
    const opened = nextSession(a);
    const one = await RawClient.open(urlOf(a));
    one.send({ t: 'hello', v: 1, win: 64, nonce });
    const first = await one.next((fr) => fr.t === 'welcome', 5_000);
    const session = await opened;
    void session.send('from A').catch(() => undefined);
    const detached = nextEvent(session as never, 'detach');
    one.ws.terminate(); // as if the welcome had been lost with the link
    await detached;

    const two = await RawClient.open(urlOf(b));
    two.send({ t: 'hello', v: 1, win: 64, nonce });
    expect(await two.next((fr) => fr.t === 'welcome', 5_000)).toMatchObject({ sid: first.sid, resumed: false, seq: 0 });
    expect(await two.next((fr) => fr.t === 'msg', 5_000)).toMatchObject({ seq: 1, d: 'from A' });
    two.send({ t: 'cack', seq: 1 });
    const look = f().engine();
    await until('the cack to reach Redis', async () => (await look.sessions.get(first.sid as string))?.pushAcked === 1);
    two.ws.terminate();

    const three = await RawClient.open(urlOf(a));
    three.send({ t: 'hello', v: 1, win: 64, nonce });
    const other = await three.next((fr) => fr.t === 'welcome', 5_000);
    expect(other).toMatchObject({ resumed: false });
    expect(other.sid).not.toBe(first.sid);
  });
});
