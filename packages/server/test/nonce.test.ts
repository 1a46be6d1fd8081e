import { afterEach, describe, expect, it } from 'vitest';
import { RawClient, closeAll, nextEvent, nextSession, startServer, urlOf, type AnyFrame } from '@lifeline/test-kit';
import { CloseCode, memoryEngine, type Session } from '../src/index.js';

afterEach(closeAll);

const NONCE = 'n0nce-of-one-attempt';

/** A `hello` with `extra`, and the server's first answer to it. */
async function hello(url: string, extra: AnyFrame): Promise<{ client: RawClient; welcome: AnyFrame }> {
  const client = await RawClient.open(url);
  client.send({ t: 'hello', v: 1, win: 64, ...extra });
  return { client, welcome: await client.next((f) => f.t === 'welcome' || f.t === 'bye', 5_000) };
}

/** Its link dies before the client reads anything: the `welcome` is lost with it. */
async function lose(client: RawClient, session: Session): Promise<void> {
  const detached = nextEvent(session as never, 'detach');
  client.ws.terminate();
  await detached;
}

/** A server that pushes `text` to every session as it opens: the sessions, and each push's promise. */
async function pushingServer(text: string) {
  const server = await startServer();
  const sessions: Session[] = [];
  const pushes: Array<Promise<void>> = [];
  server.on('session', (s) => {
    sessions.push(s);
    pushes.push(s.send(text));
  });
  return { server, sessions, pushes };
}

describe('hello.nonce: a welcome lost with its link', () => {
  it('the next hello with the same nonce gets that session, new to it, with the pushes made for it', async () => {
    const { server, sessions, pushes } = await pushingServer('made at open');
    const first = await hello(urlOf(server), { nonce: NONCE });
    await lose(first.client, sessions[0] as Session);

    const second = await hello(urlOf(server), { nonce: NONCE });
    expect(second.welcome).toMatchObject({ t: 'welcome', sid: first.welcome.sid, resumed: false, seq: 0 });
    expect(second.welcome.token).not.toBe(first.welcome.token);
    expect(sessions).toHaveLength(1); // one 'session' event: the application sees one session
    expect(server.sessions.size).toBe(1);
    expect(await second.client.next((f) => f.t === 'msg')).toMatchObject({ seq: 1, d: 'made at open' });
    second.client.send({ t: 'cack', seq: 1 });
    await pushes[0];

    // The token of the lost welcome never reached a client: it resumes nothing.
    await lose(second.client, sessions[0] as Session);
    const stale = await RawClient.open(urlOf(server));
    stale.send({ t: 'hello', v: 1, resume: { sid: first.welcome.sid, token: first.welcome.token, seq: 0 } });
    expect(await stale.closedWith()).toBe(CloseCode.Forbidden);
    const back = await hello(urlOf(server), { resume: { sid: second.welcome.sid, token: second.welcome.token, seq: 1 } });
    expect(back.welcome).toMatchObject({ sid: first.welcome.sid, resumed: true });
  });

  it('takes the session from a connection that still holds it (the half-open link of the lost welcome)', async () => {
    const server = await startServer();
    const opened = nextSession(server);
    const first = await hello(urlOf(server), { nonce: NONCE });
    const session = await opened;
    const second = await hello(urlOf(server), { nonce: NONCE });
    expect(second.welcome).toMatchObject({ sid: first.welcome.sid, resumed: false });
    expect(await first.client.closedWith()).toBe(CloseCode.Replaced);
    expect(session.connected).toBe(true);
    second.client.send({ t: 'msg', seq: 1, id: 'm1', ts: 1, d: 'on the new link' });
    expect(await second.client.acks(1)).toEqual([{ seq: 1, r: 'on the new link' }]);
  });

  it('a session its client has sent on is not given again: the same nonce without its token opens another', async () => {
    const server = await startServer();
    const sessions: Session[] = [];
    server.on('session', (s) => sessions.push(s));
    const first = await hello(urlOf(server), { nonce: NONCE });
    first.client.send({ t: 'msg', seq: 1, id: 'm1', ts: 1, d: 'known' });
    await first.client.acks(1);
    await lose(first.client, sessions[0] as Session);

    const second = await hello(urlOf(server), { nonce: NONCE });
    expect(second.welcome).toMatchObject({ resumed: false, seq: 0 });
    expect(second.welcome.sid).not.toBe(first.welcome.sid);
    expect(sessions).toHaveLength(2);
    // The first is untouched: its own client may still resume it.
    const back = await hello(urlOf(server), { resume: { sid: first.welcome.sid, token: first.welcome.token, seq: 0 } });
    expect(back.welcome).toMatchObject({ sid: first.welcome.sid, resumed: true, seq: 1 });
  });

  it('a session whose pushes its client acknowledged is not given again either', async () => {
    const { server, sessions, pushes } = await pushingServer('hi');
    const first = await hello(urlOf(server), { nonce: NONCE });
    await first.client.next((f) => f.t === 'msg');
    first.client.send({ t: 'cack', seq: 1 });
    await pushes[0];
    await lose(first.client, sessions[0] as Session);
    const second = await hello(urlOf(server), { nonce: NONCE });
    expect(second.welcome.sid).not.toBe(first.welcome.sid);
    expect(sessions).toHaveLength(2);
  });

  it("another identity's hello with the same nonce gets a session of its own", async () => {
    const server = await startServer({ authenticate: (auth) => ({ user: auth }), identityKey: (id) => (id as { user: string }).user });
    const sessions: Session[] = [];
    server.on('session', (s) => sessions.push(s));
    const alice = await hello(urlOf(server), { nonce: NONCE, auth: 'alice' });
    await lose(alice.client, sessions[0] as Session);
    const mallory = await hello(urlOf(server), { nonce: NONCE, auth: 'mallory' });
    expect(mallory.welcome.sid).not.toBe(alice.welcome.sid);
    expect(sessions.map((s) => s.identity)).toEqual([{ user: 'alice' }, { user: 'mallory' }]);
    expect((sessions[0] as Session).state).toBe('detached');
  });

  it('a malformed nonce is refused with 4400', async () => {
    const server = await startServer();
    for (const nonce of ['short', 'x'.repeat(65), 'has a space in it!!', 42]) {
      const c = await RawClient.open(urlOf(server));
      c.send({ t: 'hello', v: 1, nonce });
      expect(await c.closedWith()).toBe(CloseCode.BadFrame);
    }
    expect(server.sessions.size).toBe(0);
  });

  it('on a shared engine, a node other than the one that opened it gives the session back', async () => {
    const engine = memoryEngine();
    const a = await startServer({ engine });
    const b = await startServer({ engine });
    const opened = nextSession(a);
    const first = await hello(urlOf(a), { nonce: NONCE });
    const session = await opened;
    void session.send('from A');
    await lose(first.client, session);

    const second = await hello(urlOf(b), { nonce: NONCE });
    expect(second.welcome).toMatchObject({ sid: first.welcome.sid, resumed: false, seq: 0 });
    expect(await second.client.next((f) => f.t === 'msg')).toMatchObject({ seq: 1, d: 'from A' });
    second.client.send({ t: 'msg', seq: 1, id: 'm1', ts: 1, d: 'x' });
    expect(await second.client.acks(1)).toEqual([{ seq: 1, r: 'x' }]);
    // Now its client has used it: the nonce alone no longer gives it.
    second.client.send({ t: 'cack', seq: 1 });
    const third = await hello(urlOf(a), { nonce: NONCE });
    expect(third.welcome.sid).not.toBe(first.welcome.sid);
    await engine.close();
  });
});
