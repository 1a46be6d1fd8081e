import { once } from 'node:events';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { isRetryableClose } from '@lifeline/protocol';
import { RawClient, WireClient, closeAll, gate, nextEvent, nextSession, startServer, urlOf, type AnyFrame } from '@lifeline/test-kit';
import {
  CloseCode,
  createServer,
  serverDefaults,
  type LifelinePlugin,
  type LifelineServer,
  type LimitInfo,
  type ProtocolErrorInfo,
  type Session,
  type SessionDetachEvent,
} from '../src/index.js';
import { HIGH_WATER_BYTES } from '../src/connection.js';
import { TokenBucket } from '../src/rate-limit.js';

afterEach(closeAll);

/** Everything a plugin hears about drops and protocol errors. */
function recorder(): { plugin: LifelinePlugin; drops: Array<[string, number]>; protocolErrors: number[] } {
  const drops: Array<[string, number]> = [];
  const protocolErrors: number[] = [];
  const plugin: LifelinePlugin = {
    name: 'recorder',
    onDrop: (e) => drops.push([e.reason, e.count]),
    onProtocolError: (e) => protocolErrors.push(e.closeCode),
  };
  return { plugin, drops, protocolErrors };
}

const nextLimit = (server: LifelineServer, timeoutMs = 2_000): Promise<LimitInfo> => nextEvent<LimitInfo>(server, 'limit', timeoutMs);

/**
 * A client that does the WebSocket upgrade by hand (no `ws`), optionally says hello and reads the
 * welcome, then stops reading for good: the socket is paused, so the kernel buffers fill and the
 * server's `bufferedAmount` grows, as with a client that never reads. Deaf: once the test resumes
 * the socket, it reads the close frame but never answers it.
 */
async function stalledClient(port: number, hello?: AnyFrame): Promise<{ socket: Socket; welcome: AnyFrame | undefined }> {
  const client = await WireClient.connect(port, { deaf: true });
  const welcome = hello === undefined ? undefined : await client.hello(hello);
  client.stopReading();
  return { socket: client.socket, welcome };
}

describe('options', () => {
  it('documents and validates the abuse limits', () => {
    expect(serverDefaults).toMatchObject({
      maxPendingHandshakes: 1024,
      maxSessions: 50_000,
      maxSessionsPerIdentity: 100,
      overloadRetryMs: 1_000,
      rateLimit: false,
      slowClientTimeoutMs: 30_000,
    });
    const handler = (d: unknown) => d;
    const bad: object[] = [
      { maxPendingHandshakes: 0 },
      { maxSessions: 0 },
      { maxSessions: 1.5 },
      { maxSessionsPerIdentity: 0 },
      { maxSessionsPerIdentity: -Infinity },
      { identityKey: 'sub' },
      { overloadRetryMs: -1 },
      { slowClientTimeoutMs: 0 },
      { rateLimit: true },
      { rateLimit: { messagesPerSecond: 0 } },
      { rateLimit: { messagesPerSecond: Infinity } },
      { rateLimit: { burst: 0 } },
      { rateLimit: { burst: 2.5 } },
    ];
    for (const options of bad) expect(() => createServer({ handler, ...options }), JSON.stringify(options)).toThrow(TypeError);
    expect(() => createServer({ handler, maxSessions: Infinity, maxSessionsPerIdentity: Infinity, slowClientTimeoutMs: Infinity, rateLimit: {} })).not.toThrow();
  });

  it('a token bucket refills at its rate, and a take larger than the bucket passes only when it is full', () => {
    const bucket = new TokenBucket({ messagesPerSecond: 1_000, burst: 10 }, 0);
    expect(bucket.take(10, 0)).toBe(true);
    expect(bucket.take(1, 0)).toBe(false);
    expect(bucket.refillMs(0)).toBe(10);
    expect(bucket.take(5, 5)).toBe(true); // 1 token a ms
    expect(bucket.take(30, 10)).toBe(false); // not full
    expect(bucket.take(30, 100)).toBe(true); // full: passes, and owes 20
    expect(bucket.take(1, 110)).toBe(false);
    expect(bucket.take(1, 121)).toBe(true);
  });
});

describe('connection floods', () => {
  it('closes sockets over maxPendingHandshakes at once with bye 1013 + retryMs, and admits again when a handshake finishes', async () => {
    const { plugin, protocolErrors } = recorder();
    const server = await startServer({ maxPendingHandshakes: 3, overloadRetryMs: 1_234, handshakeTimeoutMs: 10_000, plugins: [plugin] });
    const limits: LimitInfo[] = [];
    server.on('limit', (info) => limits.push(info));
    const silent = await Promise.all([1, 2, 3].map(() => RawClient.open(urlOf(server))));

    const extra = await RawClient.open(urlOf(server));
    expect(await extra.next((f) => f.t === 'bye')).toEqual({ t: 'bye', code: CloseCode.TryAgainLater, reason: expect.stringMatching(/3 handshakes pending/), retryMs: 1_234 });
    expect(await extra.closedWith()).toBe(CloseCode.TryAgainLater);
    expect(isRetryableClose(CloseCode.TryAgainLater)).toBe(true);
    expect(limits).toEqual([expect.objectContaining({ limit: 'pending-handshakes', code: 1013, retryMs: 1_234, sessionId: undefined })]);
    expect(protocolErrors).toEqual([1013]);

    // One pending handshake completes: there is room for one more.
    expect(await (silent[0] as RawClient).hello()).toMatchObject({ t: 'welcome', resumed: false });
    const { welcome } = await RawClient.connect(urlOf(server));
    expect(welcome.resumed).toBe(false);
    expect(limits).toHaveLength(1);
  });

  it('destroys a refused socket that never answers the close frame within about a second', async () => {
    const server = await startServer({ maxPendingHandshakes: 1, handshakeTimeoutMs: 10_000 });
    await RawClient.open(urlOf(server)); // holds the only handshake slot
    const limit = nextLimit(server);
    const { socket } = await stalledClient(server.port);
    expect((await limit).limit).toBe('pending-handshakes');
    // It reads the bye and the close frame but never answers; ws alone would wait 30 s.
    const started = performance.now();
    const closed = once(socket, 'close');
    socket.resume();
    await closed;
    expect(performance.now() - started).toBeLessThan(2_500);
  });

  it('destroys a socket that never says hello and never answers the 4408 close frame about a second after its deadline', async () => {
    const server = await startServer({ handshakeTimeoutMs: 100 });
    const errors: number[] = [];
    server.on('protocol-error', (e) => errors.push(e.code));
    const { socket } = await stalledClient(server.port);
    const started = performance.now();
    const closed = once(socket, 'close');
    socket.resume(); // reads the close frame, never answers it
    await closed;
    expect(errors).toEqual([CloseCode.HandshakeTimeout]);
    expect(performance.now() - started).toBeLessThan(2_500);
  });

  it('refuses a new session over maxSessions with 1013 but still serves resumes', async () => {
    const server = await startServer({ maxSessions: 2, overloadRetryMs: 500 });
    const limits: LimitInfo[] = [];
    server.on('limit', (info) => limits.push(info));
    const firstSession = nextSession(server);
    const a = await RawClient.connect(urlOf(server));
    const sessionA = await firstSession;
    const b = await RawClient.connect(urlOf(server));

    const c = await RawClient.open(urlOf(server));
    c.send({ t: 'hello', v: 1 });
    expect(await c.next((f) => f.t === 'bye')).toMatchObject({ code: CloseCode.TryAgainLater, retryMs: 500 });
    expect(await c.closedWith()).toBe(CloseCode.TryAgainLater);
    expect(limits).toMatchObject([{ limit: 'sessions', code: 1013 }]);
    expect(server.sessions.size).toBe(2);

    a.client.ws.terminate();
    await nextEvent<SessionDetachEvent>(sessionA as never, 'detach');
    const back = await RawClient.open(urlOf(server));
    expect(await back.hello({ resume: { sid: a.welcome.sid, token: a.welcome.token, seq: 0 } })).toMatchObject({ resumed: true });

    // A session that ends makes room.
    b.client.send({ t: 'bye', code: 1000, reason: 'done' });
    expect(await b.client.closedWith()).toBe(1000);
    expect((await RawClient.connect(urlOf(server))).welcome.resumed).toBe(false);
  });
});

describe('message floods', () => {
  it('counts frames against the per-session rate limit: bye 4429 + retryMs, the budget survives a reconnect, and the client resumes after retryMs', async () => {
    const { plugin, drops } = recorder();
    const calls: number[] = [];
    const server = await startServer({ rateLimit: { messagesPerSecond: 20, burst: 20 }, plugins: [plugin], handler: (d, ctx) => (calls.push(ctx.seq), d) });
    const limits: LimitInfo[] = [];
    server.on('limit', (info) => limits.push(info));
    const batch = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ seq: from + i, d: from + i }));

    const first = await RawClient.connect(urlOf(server));
    first.client.sendMsgs(batch(1, 10)); // one WebSocket message, 10 frames: within the burst of 20
    expect(await first.client.acks(10)).toHaveLength(10);
    first.client.sendMsgs(batch(11, 20)); // 20 frames with about 10 tokens left
    const bye = await first.client.next((f) => f.t === 'bye');
    expect(bye).toEqual({ t: 'bye', code: CloseCode.RateLimited, reason: expect.stringMatching(/rate limit/), retryMs: expect.any(Number) });
    expect(bye.retryMs).toBeGreaterThan(0);
    expect(bye.retryMs).toBeLessThanOrEqual(1_000); // 20 tokens at 20/s
    expect(await first.client.closedWith()).toBe(CloseCode.RateLimited);
    expect(isRetryableClose(CloseCode.RateLimited)).toBe(true);
    expect(limits).toEqual([expect.objectContaining({ limit: 'rate', code: 4429, frames: 20, sessionId: first.welcome.sid, retryMs: bye.retryMs })]);
    expect(drops).toEqual([['rate-limit', 20]]);
    expect(calls).toHaveLength(10); // none of the refused frames was handled

    // Reconnecting at once does not refill the bucket: it belongs to the session.
    const resume = { sid: first.welcome.sid, token: first.welcome.token, seq: 0 };
    const eager = await RawClient.open(urlOf(server));
    expect(await eager.hello({ resume })).toMatchObject({ resumed: true, seq: 10 });
    eager.sendMsgs(batch(11, 20));
    const again = await eager.next((f) => f.t === 'bye');
    expect(again.code).toBe(CloseCode.RateLimited);
    expect(await eager.closedWith()).toBe(CloseCode.RateLimited);

    // A client that honours retryMs (as the SDK does) resumes and retransmits; each message is handled once.
    // The wait the protocol asks for ("at least retryMs"; the SDK adds jitter), not a sync.
    await new Promise((resolve) => setTimeout(resolve, (again.retryMs as number) + 50));
    const polite = await RawClient.open(urlOf(server));
    expect(await polite.hello({ resume })).toMatchObject({ resumed: true, seq: 10 });
    polite.sendMsgs(batch(11, 20));
    expect((await polite.acks(20)).map((a) => a.r)).toEqual(batch(11, 20).map((m) => m.d));
    expect(calls).toEqual(batch(1, 30).map((m) => m.seq));
  });

  it('closes with 4400 a client with more unanswered messages than welcome.win, and never hands that message over', async () => {
    let current = gate();
    const calls: number[] = [];
    const eighth = gate();
    const server = await startServer({
      maxInFlight: 4,
      handler: async (d, ctx) => {
        calls.push(ctx.seq);
        await current.promise;
        if (ctx.seq === 8) eighth.open();
        return d;
      },
    });
    const errors: ProtocolErrorInfo[] = [];
    server.on('protocol-error', (e) => errors.push(e));
    const { client, welcome } = await RawClient.connect(urlOf(server));
    expect(welcome.win).toBe(4);

    // A client that respects the window: 4 unanswered, then 4 more once they are answered.
    client.sendMsgs([1, 2, 3, 4].map((seq) => ({ seq, d: seq })));
    client.send({ t: 'ping', ts: 1 });
    await client.next((f) => f.t === 'pong'); // the 4 have arrived (one running, three queued)
    current.open();
    expect(await client.acks(4)).toHaveLength(4);
    current = gate();
    client.sendMsgs([5, 6, 7, 8].map((seq) => ({ seq, d: seq })));
    client.send({ t: 'ping', ts: 2 });
    await client.next((f) => f.t === 'pong');
    expect(errors).toEqual([]);

    // A fifth unanswered one breaks the window.
    client.sendMsgs([{ seq: 9, d: 9 }]);
    expect(await client.closedWith()).toBe(CloseCode.BadFrame);
    expect(errors).toEqual([expect.objectContaining({ code: 4400, reason: expect.stringMatching(/window/), sessionId: welcome.sid })]);
    current.open();
    await eighth.promise;
    // Had 9 been accepted, it would be handed over as soon as 8 settles, before this macrotask.
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('sheds a client that never reads: its socket buffer stays near the high-water mark, then it is terminated and the session resumes whole', async () => {
    const { plugin, drops } = recorder();
    let transmitted = 0;
    const counter: LifelinePlugin = {
      name: 'counter',
      onTransmit: (e) => {
        if (!e.retransmit) transmitted++;
      },
    };
    const server = await startServer({ slowClientTimeoutMs: 200, maxQueued: { bytes: 64 * 1024 * 1024 }, plugins: [plugin, counter] });
    const { welcome } = await stalledClient(server.port, { t: 'hello', v: 1 });
    const session = server.sessions.get(welcome?.sid as string) as Session;
    expect(session.connected).toBe(true);

    // About 20 MB of pushes: more than the kernel's socket buffers and the 4 MiB high-water mark.
    const payload = 'x'.repeat(32 * 1024);
    const count = 600;
    const rssBefore = process.memoryUsage().rss;
    const sends = Array.from({ length: count }, (_, i) => session.send({ i, payload }, { timeoutMs: 10_000 }));
    const detached = nextEvent<SessionDetachEvent>(session as never, 'detach', 5_000);
    const limit = await nextLimit(server, 5_000);
    expect(limit).toMatchObject({ limit: 'slow-client', code: 1006, sessionId: session.id });
    // Writing stopped at the high-water mark: one batch (at most 256 KiB of frames) over it, never more.
    expect(limit.bufferedBytes).toBeGreaterThan(HIGH_WATER_BYTES);
    expect(limit.bufferedBytes).toBeLessThan(HIGH_WATER_BYTES + 512 * 1024);
    expect(transmitted).toBeLessThan(count); // the rest waited in the bounded queue, not in the socket
    expect(drops).toEqual([['buffer-full', 1]]);
    // RSS: what the process holds for this client is the bounded queue (600 × 32 KiB of encoded
    // pushes, ~20 MiB, each payload held once) plus at most the socket's high-water mark, not
    // a copy per write; 64 MiB of headroom covers V8 and allocator slack on a shared machine.
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    expect(rssGrowth).toBeLessThan(count * payload.length + HIGH_WATER_BYTES + 64 * 1024 * 1024);
    expect((await detached).code).toBe(1006);
    expect(session.state).toBe('detached'); // resumable

    // The client comes back reading: everything is replayed, in order, once. A reader slower than
    // slowClientTimeoutMs on a loaded machine may be shed again mid-replay; like the SDK it then
    // resumes from its last cack (bounded: at most 10 connections).
    const seen: number[] = [];
    let lastSeq = 0;
    for (let attempt = 0; seen.length < count && attempt < 10; attempt++) {
      const back = await RawClient.open(urlOf(server));
      expect(await back.hello({ resume: { sid: welcome?.sid, token: welcome?.token, seq: lastSeq } })).toMatchObject({ resumed: true });
      try {
        while (seen.length < count) {
          const m = await back.next((f) => f.t === 'msg', 5_000);
          if (m.seq <= lastSeq) continue;
          lastSeq = m.seq;
          seen.push((m.d as { i: number }).i);
          back.send({ t: 'cack', seq: m.seq });
        }
      } catch (error) {
        if (!String(error).includes('closed with 1006')) throw error;
      }
    }
    expect(seen).toEqual(Array.from({ length: count }, (_, i) => i));
    await Promise.all(sends);
  });
});

describe('resume hijack attempts', () => {
  const resumeOf = (welcome: AnyFrame, token = welcome.token) => ({ sid: welcome.sid, token, seq: 0 });

  it('refuses with 4403 a wrong token or the token of another session; another identity gets a new session; the owner is untouched', async () => {
    const server = await startServer({ authenticate: (auth) => ({ user: auth }) });
    const errors: number[] = [];
    server.on('protocol-error', (e) => errors.push(e.code));
    const aliceP = nextSession(server);
    const alice = await RawClient.connect(urlOf(server), { auth: 'alice' });
    const aliceSession = await aliceP;
    const alice2 = await RawClient.connect(urlOf(server), { auth: 'alice' });
    const bob = await RawClient.connect(urlOf(server), { auth: 'bob' });

    const attempts: AnyFrame[] = [
      { auth: 'alice', resume: resumeOf(alice.welcome, 'A'.repeat(43)) }, // a guessed token
      { auth: 'alice', resume: resumeOf(alice.welcome, alice2.welcome.token) }, // her other session's token
    ];
    for (const attempt of attempts) {
      const thief = await RawClient.open(urlOf(server));
      thief.send({ t: 'hello', v: 1, ...attempt });
      expect(await thief.closedWith()).toBe(CloseCode.Forbidden);
    }
    // Another identity is answered as for an unknown sid: its own new session, nothing of alice's.
    for (const attempt of [
      { auth: 'mallory', resume: resumeOf(alice.welcome) }, // the right token, another identity
      { auth: 'bob', resume: resumeOf(alice.welcome, bob.welcome.token) },
    ]) {
      const thief = await RawClient.open(urlOf(server));
      const welcome = await thief.hello(attempt);
      expect(welcome).toMatchObject({ resumed: false, seq: 0 });
      expect(welcome.sid).not.toBe(alice.welcome.sid);
      expect(thief.pending.filter((f) => f.t === 'msg')).toEqual([]);
    }
    expect(errors).toEqual([4403, 4403]);
    expect(aliceSession.connected).toBe(true);
    alice.client.sendMsgs([{ seq: 1, d: 'still hers' }]);
    expect(await alice.client.acks(1)).toEqual([{ seq: 1, r: 'still hers' }]);
  });

  it('an old token after the session ended (client bye, session.close()) opens a new, empty session and never the old one', async () => {
    const server = await startServer();
    const sessions: Session[] = [];
    server.on('session', (s) => sessions.push(s));

    // Ended by the client's bye 1000.
    const byClient = await RawClient.connect(urlOf(server));
    byClient.client.sendMsgs([{ seq: 1, d: 'secret' }]);
    await byClient.client.acks(1);
    byClient.client.send({ t: 'bye', code: 1000, reason: 'done' });
    expect(await byClient.client.closedWith()).toBe(1000);
    // Ended by the server.
    const byServer = await RawClient.connect(urlOf(server));
    (sessions[1] as Session).close('bye');
    expect(await byServer.client.closedWith()).toBe(CloseCode.SessionEnded);

    for (const old of [byClient.welcome, byServer.welcome]) {
      const replay = await RawClient.open(urlOf(server));
      const welcome = await replay.hello({ resume: resumeOf(old) });
      // Decision (docs/reliability.md): a new session, as after an expiry or a restart; nothing of the old one.
      expect(welcome).toMatchObject({ resumed: false, seq: 0 });
      expect(welcome.sid).not.toBe(old.sid);
      expect(welcome.token).not.toBe(old.token);
      expect(server.sessions.has(old.sid as string)).toBe(false);
    }
    expect(sessions.map((s) => s.state)).toEqual(['closed', 'closed', 'attached', 'attached']);
  });

  it('oversized and deeply nested JSON close only the offender (1009, 4400)', async () => {
    const server = await startServer({ maxPayloadBytes: 8 * 1024 });
    const errors: number[] = [];
    server.on('protocol-error', (e) => errors.push(e.code));
    const good = await RawClient.connect(urlOf(server));
    const big = await RawClient.connect(urlOf(server));
    big.client.sendMsgs([{ seq: 1, d: 'x'.repeat(10_000) }]);
    expect(await big.client.closedWith()).toBe(CloseCode.MessageTooBig);
    const deep = await RawClient.connect(urlOf(server));
    deep.client.send(`{"t":"msg","seq":1,"id":"a","ts":1,"d":${'['.repeat(3_000)}${']'.repeat(3_000)}}`);
    expect(await deep.client.closedWith()).toBe(CloseCode.BadFrame);
    const nested = await RawClient.connect(urlOf(server));
    nested.client.send(`{"t":"msg","seq":1,"id":"a","ts":1,"d":${'{"a":'.repeat(1_000)}1${'}'.repeat(1_000)}}`);
    expect(await nested.client.closedWith()).toBe(CloseCode.BadFrame);
    expect(errors.sort()).toEqual([1009, 4400, 4400]);
    good.client.sendMsgs([{ seq: 1, d: 'fine' }]);
    expect(await good.client.acks(1)).toEqual([{ seq: 1, r: 'fine' }]);
  });
});
