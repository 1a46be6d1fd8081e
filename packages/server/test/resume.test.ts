import { afterEach, describe, expect, it } from 'vitest';
import { RawClient, closeAll, gate, nextEvent, nextSession, startServer, urlOf } from '@lifeline/test-kit';
import { ClosedError, CloseCode, type LifelinePlugin, type Session, type SessionDetachEvent } from '../src/index.js';

afterEach(closeAll);

const resumeOf = (welcome: Record<string, unknown>, seq = 0) => ({ sid: welcome.sid, token: welcome.token, seq });

describe('resume', () => {
  it('replays unacked server messages in order and answers retransmitted client messages from the cache', async () => {
    const calls: number[] = [];
    const resumes: Array<{ replayed: number }> = [];
    const plugin: LifelinePlugin = { name: 'resumes', onResume: (e) => resumes.push(e) };
    const server = await startServer({ plugins: [plugin], handler: (d, ctx) => (calls.push(ctx.seq), { d }) });
    const sessions: Session[] = [];
    server.on('session', (s) => sessions.push(s));
    const first = await RawClient.connect(urlOf(server));
    const session = sessions[0] as Session;

    const sends = ['a', 'b', 'c'].map((d) => session.send(d));
    for (let i = 0; i < 3; i++) await first.client.next();
    first.client.sendMsgs([1, 2].map((seq) => ({ seq, d: seq })));
    await first.client.acks(2);
    // The client delivered server message 1 only, then its link died.
    const detached = nextEvent<SessionDetachEvent>(session as never, 'detach');
    first.client.ws.terminate();
    await detached;
    expect(session.connected).toBe(false);
    const later = session.send('d'); // queued while detached

    const second = await RawClient.open(urlOf(server));
    const attached = nextEvent(session as never, 'attach');
    const welcome = await second.hello({ resume: resumeOf(first.welcome, 1) });
    await attached;
    expect(welcome).toMatchObject({ t: 'welcome', sid: first.welcome.sid, resumed: true, seq: 2 });
    expect(welcome.token).not.toBe(first.welcome.token); // rotated on every resume
    expect(sessions).toHaveLength(1); // no new 'session' event on resume
    const replay = [await second.next(), await second.next(), await second.next()];
    expect(replay.map((m) => [m.seq, m.d])).toEqual([
      [2, 'b'],
      [3, 'c'],
      [4, 'd'],
    ]);
    expect(resumes).toMatchObject([{ resumed: true, replayed: 2 }]);

    second.sendMsgs([1, 2, 3].map((seq) => ({ seq, d: seq })));
    expect(await second.acks(3)).toEqual([
      { seq: 1, r: { d: 1 } },
      { seq: 2, r: { d: 2 } },
      { seq: 3, r: { d: 3 } },
    ]);
    expect(calls).toEqual([1, 2, 3]);
    second.send({ t: 'cack', seq: 4 });
    await Promise.all([...sends, later]);
  });

  it('a wrong token is refused with 4403 and leaves the session resumable', async () => {
    const server = await startServer();
    const sessionP = nextSession(server);
    const owner = await RawClient.connect(urlOf(server));
    const session = await sessionP;
    const errors: number[] = [];
    server.on('protocol-error', (e) => errors.push(e.code));

    const forger = await RawClient.open(urlOf(server));
    forger.send({ t: 'hello', v: 1, resume: { sid: owner.welcome.sid, token: 'forged', seq: 0 } });
    expect(await forger.closedWith()).toBe(CloseCode.Forbidden);
    expect(errors).toEqual([4403]);
    expect(session.connected).toBe(true); // untouched: still on its own connection

    owner.client.sendMsgs([{ seq: 1, d: 'still mine' }]);
    expect(await owner.client.acks(1)).toEqual([{ seq: 1, r: 'still mine' }]);
    owner.client.ws.terminate();
    await nextEvent(session as never, 'detach');
    const back = await RawClient.open(urlOf(server));
    expect(await back.hello({ resume: resumeOf(owner.welcome, 0) })).toMatchObject({ resumed: true, seq: 1 });
  });

  it("another identity with the session's token gets a new session of its own, as for an unknown sid", async () => {
    const server = await startServer({ authenticate: (auth) => ({ user: auth }) });
    const alice = await RawClient.connect(urlOf(server), { auth: 'alice' });
    const mallory = await RawClient.open(urlOf(server));
    const welcome = await mallory.hello({ auth: 'mallory', resume: resumeOf(alice.welcome) });
    expect(welcome).toMatchObject({ resumed: false, seq: 0 });
    expect(welcome.sid).not.toBe(alice.welcome.sid);
    expect(server.sessions.get(alice.welcome.sid as string)?.state).toBe('attached'); // untouched
    // The same identity, key order aside, resumes.
    const again = await RawClient.open(urlOf(server));
    expect(await again.hello({ auth: 'alice', resume: resumeOf(alice.welcome) })).toMatchObject({ resumed: true });
    expect(await alice.client.closedWith()).toBe(CloseCode.Replaced);
  });

  it('closes the older connection with 4409 when a second one resumes', async () => {
    const server = await startServer();
    const sessionP = nextSession(server);
    const first = await RawClient.connect(urlOf(server));
    const session = await sessionP;
    const pending = session.send('x');
    await first.client.next();
    const second = await RawClient.open(urlOf(server));
    const welcome = await second.hello({ resume: resumeOf(first.welcome) });
    expect(welcome.resumed).toBe(true);
    expect(await first.client.closedWith()).toBe(CloseCode.Replaced);
    expect((await second.next()).d).toBe('x'); // replayed on the new connection
    second.send({ t: 'cack', seq: 1 });
    await pending;
    expect(session.state).toBe('attached');
  });

  it('an unknown sid starts a new session (resumed: false)', async () => {
    const server = await startServer();
    const client = await RawClient.open(urlOf(server));
    const welcome = await client.hello({ resume: { sid: 'gone', token: 't', seq: 5 } });
    expect(welcome).toMatchObject({ resumed: false, seq: 0 });
    expect(welcome.sid).not.toBe('gone');
  });

  it('a detached session expires after resumeWindowMs: close "expired", pending sends rejected', async () => {
    const server = await startServer({ resumeWindowMs: 200 });
    const sessionP = nextSession(server);
    const { client, welcome } = await RawClient.connect(urlOf(server));
    const session = await sessionP;
    const pending = session.send('never acked').catch((e: unknown) => e);
    await client.next();
    const closed = nextEvent<{ reason: string }>(session as never, 'close');
    const detachedAt = performance.now();
    client.ws.terminate();
    expect(await closed).toEqual({ reason: 'expired' });
    expect(performance.now() - detachedAt).toBeGreaterThanOrEqual(190);
    const error = (await pending) as ClosedError;
    expect(error).toBeInstanceOf(ClosedError);
    expect(error.maybeDelivered).toBe(true);
    expect(server.sessions.size).toBe(0);
    const late = await RawClient.open(urlOf(server));
    expect(await late.hello({ resume: resumeOf(welcome, 1) })).toMatchObject({ resumed: false });
  });

  it('a client bye with 1000 ends the session at once', async () => {
    const server = await startServer();
    const sessionP = nextSession(server);
    const { client, welcome } = await RawClient.connect(urlOf(server));
    const session = await sessionP;
    const pending = session.send('x').catch((e: unknown) => e);
    const closed = nextEvent<{ reason: string }>(session as never, 'close');
    client.send({ t: 'bye', code: 1000, reason: 'done' });
    expect(await closed).toEqual({ reason: 'client-closed' });
    expect(await client.closedWith()).toBe(1000);
    expect(await pending).toBeInstanceOf(ClosedError);
    const later = await RawClient.open(urlOf(server));
    expect(await later.hello({ resume: resumeOf(welcome) })).toMatchObject({ resumed: false });
  });

  it('a handler that finishes while detached leaves its outcome for the retransmission', async () => {
    const release = gate();
    const finished = gate();
    let calls = 0;
    const server = await startServer({
      handler: async () => {
        calls++;
        await release.promise;
        finished.open();
        return 'late';
      },
    });
    const sessionP = nextSession(server);
    const first = await RawClient.connect(urlOf(server));
    const session = await sessionP;
    first.client.sendMsgs([{ seq: 1, d: 0 }]);
    first.client.send({ t: 'ping', ts: 1 });
    await first.client.next((f) => f.t === 'pong');
    first.client.ws.terminate();
    await nextEvent(session as never, 'detach');
    release.open();
    await finished.promise;
    const second = await RawClient.open(urlOf(server));
    expect(await second.hello({ resume: resumeOf(first.welcome) })).toMatchObject({ resumed: true, seq: 1 });
    second.sendMsgs([{ seq: 1, d: 0 }]);
    expect(await second.acks(1)).toEqual([{ seq: 1, r: 'late' }]);
    expect(calls).toBe(1);
  });

  it('a silent connection is dropped by the heartbeat sweep and the session is kept', async () => {
    const server = await startServer({ heartbeatIntervalMs: 20, heartbeatTimeoutMs: 80 });
    const sessionP = nextSession(server);
    const { client } = await RawClient.connect(urlOf(server));
    const session = await sessionP;
    // Pings arrive every interval; this raw client never sends anything, so the link is silent.
    expect(await client.next((f) => f.t === 'ping')).toEqual({ t: 'ping', ts: expect.any(Number) });
    const detach = await nextEvent<SessionDetachEvent>(session as never, 'detach', 2_000);
    expect(detach.code).toBe(1006);
    expect(session.state).toBe('detached');
  });

  it('reads what arrived while the event loop was blocked before it drops a connection as silent', async () => {
    const server = await startServer({ heartbeatIntervalMs: 60_000, heartbeatTimeoutMs: 100 });
    const sessionP = nextSession(server);
    const { client } = await RawClient.connect(urlOf(server));
    const session = await sessionP;
    const detaches: SessionDetachEvent[] = [];
    session.on('detach', (e: SessionDetachEvent) => detaches.push(e));
    client.send({ t: 'ping', ts: 7 });
    // The whole heartbeat window passes while the loop is blocked; when it unblocks, the sweep's
    // timer is due before the socket is read, and the ping is waiting in the socket.
    const blockedUntil = performance.now() + 150;
    while (performance.now() < blockedUntil);
    expect(await client.next((f) => f.t === 'pong')).toMatchObject({ t: 'pong', ts: 7 });
    await new Promise((resolve) => setImmediate(resolve)); // past the deferred drop
    expect(detaches).toEqual([]);
    expect(session.state).toBe('attached');
  });

  it('answers a ping with a pong carrying its ts and the server clock', async () => {
    const server = await startServer({ now: () => 42 });
    const { client } = await RawClient.connect(urlOf(server));
    client.send({ t: 'ping', ts: 7 });
    expect(await client.next((f) => f.t === 'pong')).toEqual({ t: 'pong', ts: 7, at: 42 });
  });
});
