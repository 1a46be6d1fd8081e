import { afterEach, describe, expect, it } from 'vitest';
import { memoryEngine, type Engine, type Session } from '../src/index.js';
import { RawClient, closeAll, nextSession, poll, startServer, urlOf } from '@lifeline/test-kit';
import { queued, settled, subscribe, take } from './channels-kit.js';
import { resolveChannelOptions } from '../src/channels/options.js';

const resolveJoinLeave = (value: unknown) => resolveChannelOptions({ joinLeave: value as boolean });

afterEach(closeAll);

// Presence belongs to the session (protocol.md, "Presence"): join at its first subscription to
// a channel, leave only when it unsubscribes or ends, never on a drop that resumes.

const frame = (client: RawClient, t: 'join' | 'leave', ch = 'room') => client.next((f) => f.t === t && f.ch === ch);

describe('presence', () => {
  it('a join for the others (not for itself); members by presence frame and server.presence; no identity unless the option shows one', async () => {
    const server = await startServer({ authenticate: (auth) => ({ sub: String(auth) }) });
    const a = await RawClient.connect(urlOf(server), { auth: 'alice' });
    const b = await RawClient.connect(urlOf(server), { auth: 'bob' });
    await subscribe(a.client, 'room');
    await subscribe(b.client, 'room');
    expect((await frame(a.client, 'join')).member).toEqual({ clientId: b.welcome.sid, sessionId: b.welcome.sid });
    await settled(b.client);
    expect(queued(b.client, 'room', 'join')).toEqual([]);
    b.client.send({ t: 'presence', ch: 'room' });
    const members = await b.client.next((f) => f.t === 'members');
    expect(members.members.map((m: { sessionId: string }) => m.sessionId).sort()).toEqual([a.welcome.sid, b.welcome.sid].sort());
    expect((await server.presence('room')).map((m) => m.clientId).sort()).toEqual([a.welcome.sid, b.welcome.sid].sort());
    // Not subscribed: an empty list, nothing learned of who is there.
    b.client.send({ t: 'presence', ch: 'elsewhere' });
    expect(await b.client.next((f) => f.t === 'members' && f.ch === 'elsewhere')).toMatchObject({ members: [] });
  });

  it('channels.joinLeave false for a channel: no join or leave frames there (N arrivals would cost N² frames), presence still listed; other channels unchanged', async () => {
    const server = await startServer({ channels: { joinLeave: (channel: string) => !channel.startsWith('ticker:') } });
    const a = await RawClient.connect(urlOf(server));
    const b = await RawClient.connect(urlOf(server));
    await subscribe(a.client, 'ticker:LFL');
    await subscribe(a.client, 'room');
    await subscribe(b.client, 'ticker:LFL');
    await subscribe(b.client, 'room');
    // The room's join comes after the ticker's would have: the ticker's was never sent.
    expect((await frame(a.client, 'join', 'room')).member).toMatchObject({ sessionId: b.welcome.sid });
    await settled(a.client);
    expect(queued(a.client, 'ticker:LFL').filter((f) => f.t === 'join' || f.t === 'leave')).toEqual([]);
    expect((await server.presence('ticker:LFL')).map((m) => m.sessionId).sort()).toEqual([a.welcome.sid, b.welcome.sid].sort());
    b.client.send({ t: 'unsub', ch: 'ticker:LFL' });
    b.client.send({ t: 'unsub', ch: 'room' });
    await frame(a.client, 'leave', 'room');
    await settled(a.client);
    expect(queued(a.client, 'ticker:LFL').filter((f) => f.t === 'join' || f.t === 'leave')).toEqual([]);
    expect(() => resolveJoinLeave('no')).toThrow(TypeError);
  });

  it('shows what channels.presence returns as member.identity', async () => {
    const server = await startServer({
      authenticate: (auth) => ({ sub: String(auth), secret: 'never shown' }),
      channels: { presence: (session: Session) => ({ name: (session.identity as { sub: string }).sub }) },
    });
    const a = await RawClient.connect(urlOf(server), { auth: 'alice' });
    const b = await RawClient.connect(urlOf(server), { auth: 'bob' });
    await subscribe(a.client, 'room');
    await subscribe(b.client, 'room');
    expect((await frame(a.client, 'join')).member).toEqual({ clientId: b.welcome.sid, sessionId: b.welcome.sid, identity: { name: 'bob' } });
  });

  it('a drop that resumes makes no leave and no join; the session ending makes one leave', async () => {
    const server = await startServer();
    const a = await RawClient.connect(urlOf(server));
    await subscribe(a.client, 'room');
    const sessionB = nextSession(server);
    const b = await RawClient.connect(urlOf(server));
    const ok = await subscribe(b.client, 'room');
    await frame(a.client, 'join');
    // Cut B's socket; the session stays resumable, and its client resumes and subscribes again.
    b.client.ws.terminate();
    await poll(() => server.sessions.get(b.welcome.sid)?.connected === false, 'B detached');
    const again = await RawClient.open(urlOf(server));
    expect(await again.hello({ resume: { sid: b.welcome.sid, token: b.welcome.token, seq: 0 } })).toMatchObject({ resumed: true });
    expect(await subscribe(again, 'room', { since: { offset: ok.offset, epoch: ok.epoch } })).toMatchObject({ t: 'subok', recovered: true });
    await server.publish('room', 'after the drop');
    expect((await take(a.client, 'room', 1))[0]).toMatchObject({ d: 'after the drop' });
    await settled(a.client);
    expect(queued(a.client, 'room').filter((f) => f.t === 'join' || f.t === 'leave')).toEqual([]);
    expect(await server.presence('room')).toHaveLength(2);
    // The session ends: one leave.
    (await sessionB).close('done');
    expect((await frame(a.client, 'leave')).member).toMatchObject({ sessionId: b.welcome.sid });
    expect((await server.presence('room')).map((m) => m.sessionId)).toEqual([a.welcome.sid]);
  });

  it('unsub is a leave; a bye 1000 (the client ends its session) too', async () => {
    const server = await startServer();
    const a = await RawClient.connect(urlOf(server));
    await subscribe(a.client, 'room');
    await subscribe(a.client, 'lobby');
    const b = await RawClient.connect(urlOf(server));
    await subscribe(b.client, 'room');
    await subscribe(b.client, 'lobby');
    await frame(a.client, 'join', 'room');
    await frame(a.client, 'join', 'lobby');
    b.client.send({ t: 'unsub', ch: 'room' });
    expect((await frame(a.client, 'leave', 'room')).member.sessionId).toBe(b.welcome.sid);
    b.client.send({ t: 'bye', code: 1000, reason: 'bye' });
    expect((await frame(a.client, 'leave', 'lobby')).member.sessionId).toBe(b.welcome.sid);
    await settled(a.client);
    expect(queued(a.client, 'room', 'leave')).toEqual([]);
  });

  it('a detached session stays present past the TTL: one shared timer refreshes every entry', async () => {
    const inner = memoryEngine({ sweepIntervalMs: Infinity });
    let refreshes = 0;
    const engine: Engine = {
      ...inner,
      presenceAdd: (ch, member, ttlMs) => {
        refreshes++;
        return inner.presenceAdd(ch, member, ttlMs);
      },
    };
    const server = await startServer({ engine, channels: { presenceTtlMs: 30 } });
    const b = await RawClient.connect(urlOf(server));
    await subscribe(b.client, 'room');
    await subscribe(b.client, 'lobby');
    b.client.ws.terminate();
    const start = refreshes;
    // Twelve refreshes of two entries: six rounds of 10 ms, twice the TTL.
    await poll(() => refreshes >= start + 12, 'six refresh rounds', 5_000, 5);
    inner.sweep();
    expect((await server.presence('room')).map((m) => m.sessionId)).toEqual([b.welcome.sid]);
    expect((await server.presence('lobby')).map((m) => m.sessionId)).toEqual([b.welcome.sid]);
    await inner.close();
  });
});
