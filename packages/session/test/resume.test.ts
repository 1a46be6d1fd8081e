import { describe, expect, it } from 'vitest';
import { AckTimeoutError, type Json } from '@lifeline/protocol';
import { next, reach } from '@lifeline/test-kit';
import type { ResumedInfo, SessionLostInfo } from '../src/index.js';
import { client, fakeServer, useFixtures } from './helpers.js';

useFixtures();

describe('resume and replay', () => {
  it('retransmits unacked messages after a drop with the same seq, id and bytes, and presents the delivered mark', async () => {
    const server = await fakeServer({ handler: (d, f, conn) => (conn === server.conns[0] && d !== 'a' ? undefined : `ok:${String(d)}`) });
    const c = client({ url: server.url });
    const got: Json[] = [];
    c.on('message', (d) => got.push(d));
    await c.connect();
    const first = await server.conn(1);
    const sends = [c.send('a'), c.send('b'), c.send('c')];
    await expect(sends[0]).resolves.toBe('ok:a');
    first.push('s1', 's2');
    await server.until(() => first.session.cacked === 2);
    await server.until(() => server.msgs.length === 3);
    const resumed = next(c, 'resumed');
    first.socket.terminate();
    const second = await server.conn(2);
    expect(second.hello.resume).toEqual({ sid: 'sid-1', token: 'token-1', seq: 2 });
    expect((await resumed)[0]).toEqual({ replayed: 2 });
    await expect(Promise.all(sends)).resolves.toEqual(['ok:a', 'ok:b', 'ok:c']);
    const original = first.frames.filter((f) => f.t === 'msg' && (f.seq as number) > 1);
    const replayed = second.frames.filter((f) => f.t === 'msg');
    expect(replayed).toEqual(original);
    expect(replayed.map((f) => f.seq)).toEqual([2, 3]);
    expect(c.sessionId).toBe('sid-1');
    // The server's sequence carries on: s3 is new, nothing is delivered twice.
    second.push('s3');
    await server.until(() => second.session.cacked === 3);
    expect(got).toEqual(['s1', 's2', 's3']);
  });

  it('takes a resumed welcome batched with replayed messages and acks, applying the welcome first', async () => {
    let hellos = 0;
    const server = await fakeServer({
      handler: false,
      onHello: (hello, socket) => {
        if (++hellos === 1) return true;
        // What the reference server sends on a resume: welcome, then in the same message the
        // replay of a server message the client never delivered, and an ack it had lost.
        expect(hello.resume).toMatchObject({ sid: 'sid-1', token: 'token-1', seq: 0 });
        const welcome = { t: 'welcome', v: 1, sid: 'sid-1', token: 'token-2', resumed: true, seq: 1, win: 8, hb: 15_000, max: 65_536 };
        socket.send(JSON.stringify([welcome, { t: 'msg', seq: 1, id: 's1', ts: 1, d: 'replayed' }, { t: 'ack', seq: 1, r: 'done' }]));
        return false;
      },
    });
    const c = client({ url: server.url });
    const got: Json[] = [];
    c.on('message', (d) => got.push(d));
    await c.connect();
    const first = await server.conn(1);
    const sent = c.send('order');
    await server.until(() => server.msgs.length === 1);
    const resumed = next(c, 'resumed');
    first.socket.terminate();
    expect((await resumed)[0]).toEqual({ replayed: 1 });
    await expect(sent).resolves.toBe('done');
    await reach(c, 'open');
    expect(got).toEqual(['replayed']);
    expect(c.sessionId).toBe('sid-1');
  });

  it('keeps the token of the newest welcome: a server that rotates it on every resume is resumed each time', async () => {
    const server = await fakeServer({ rotateTokens: true });
    const c = client({ url: server.url });
    await c.connect();
    const lost: unknown[] = [];
    c.on('session-lost', (info) => lost.push(info));
    for (let i = 1; i <= 3; i++) {
      const resumed = next(c, 'resumed');
      (await server.conn(i)).socket.terminate();
      await resumed;
    }
    const hellos = server.conns.map((conn) => (conn.hello.resume as { token?: string } | undefined)?.token);
    expect(hellos).toEqual([undefined, 'token-1', 'token-1+', 'token-1++']);
    expect(lost).toEqual([]);
    await expect(c.send('after three resumes')).resolves.toEqual({ echo: 'after three resumes' });
  });

  it('does not retransmit a message whose deadline passed', async () => {
    const server = await fakeServer({ handler: (d, f, conn) => (conn === server.conns[0] ? undefined : 'ok') });
    const c = client({ url: server.url });
    await c.connect();
    const first = await server.conn(1);
    const expired = await c.send('gone', { timeoutMs: 30 }).catch((e: unknown) => e);
    expect(expired).toBeInstanceOf(AckTimeoutError);
    expect((expired as AckTimeoutError).maybeDelivered).toBe(true);
    const kept = c.send('kept');
    await server.until(() => server.msgs.length === 2);
    first.socket.terminate();
    await expect(kept).resolves.toBe('ok');
    const second = await server.conn(2);
    expect(second.frames.filter((f) => f.t === 'msg').map((f) => f.d)).toEqual(['kept']);
  });

  it("resumed: false → 'session-lost' with the unknown count, and the same ids re-sent with seqs from 1", async () => {
    const server = await fakeServer({ resume: false, handler: (d, f, conn) => (conn === server.conns[0] ? undefined : `new:${String(d)}`) });
    const hooks: string[] = [];
    const c = client({
      url: server.url,
      plugins: [
        {
          name: 'spy',
          onResume: (e) => hooks.push(`resume:${e.resumed}:${e.replayed}`),
          onSessionLost: (e) => hooks.push(`lost:${e.unknown}`),
        },
      ],
    });
    const got: Json[] = [];
    c.on('message', (d) => got.push(d));
    await c.connect();
    const first = await server.conn(1);
    first.push('old-1', 'old-2');
    await server.until(() => first.session.cacked === 2);
    const sends = [c.send('a', { id: 'id-a' }), c.send('b', { id: 'id-b' }), c.send('c', { id: 'id-c' })];
    await server.until(() => server.msgs.length === 3);
    const lost = next(c, 'session-lost');
    first.socket.terminate();
    expect((await lost)[0]).toEqual({ unknown: 3, ids: ['id-a', 'id-b', 'id-c'] });
    expect(hooks).toEqual(['resume:false:3', 'lost:3']);
    await expect(Promise.all(sends)).resolves.toEqual(['new:a', 'new:b', 'new:c']);
    const second = await server.conn(2);
    expect(second.session.sid).toBe('sid-2');
    expect(c.sessionId).toBe('sid-2');
    expect(second.frames.filter((f) => f.t === 'msg').map((f) => [f.seq, f.id, f.d])).toEqual([
      [1, 'id-a', 'a'],
      [2, 'id-b', 'b'],
      [3, 'id-c', 'c'],
    ]);
    // The inbound sequence restarted too: the new session's seq 1 is not a duplicate.
    second.push('new-1');
    await server.until(() => second.session.cacked === 1);
    expect(got).toEqual(['old-1', 'old-2', 'new-1']);
    // New sends continue the new sequence.
    await c.send('d');
    expect(server.msgs.at(-1)?.seq).toBe(4);
  });

  it('finds a dead link through the heartbeat, reconnects and resumes', async () => {
    const server = await fakeServer({ handler: () => 'ok' });
    const c = client({ url: server.url, heartbeatIntervalMs: 20, heartbeatTimeoutMs: 120 });
    await c.connect();
    const first = await server.conn(1);
    // Paused in the same turn as connect() resolved, before any timer can run: with a 120 ms
    // window, a loop stalled on a busy machine could otherwise drop a healthy link first, and
    // the test would wait for a second drop that never comes.
    const disconnected = next(c, 'disconnect');
    first.socket.pause(); // half-open: nothing comes back
    const sent = c.send('x');
    expect((await disconnected)[0]).toEqual({ code: 4000, reason: 'heartbeat timeout', willReconnect: true });
    await reach(c, 'reconnecting');
    await reach(c, 'open');
    await expect(sent).resolves.toBe('ok');
    expect((await server.conn(2)).hello.resume).toMatchObject({ sid: 'sid-1' });
  });
});
