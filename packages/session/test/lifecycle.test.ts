import { describe, expect, it } from 'vitest';
import { AbortError, ClosedError, TimeoutError, UnauthorizedError } from '@lifeline/protocol';
import { next, reach, settle, startSilentServer, within } from '@lifeline/test-kit';
import { LifelineClient, type ClientState } from '../src/index.js';
import { client, fakeServer, useFixtures } from './helpers.js';

useFixtures();

describe('lifecycle', () => {
  it('goes idle → connecting → open → reconnecting → open → closed, through one state event each', async () => {
    const server = await fakeServer();
    const c = client({ url: server.url });
    const states: Array<[ClientState, ClientState, string]> = [];
    c.on('state', (state, { from, reason }) => states.push([from, state, reason]));
    await c.connect();
    (await server.conn(1)).socket.close(1011, 'oops');
    await reach(c, 'reconnecting');
    await reach(c, 'open');
    await c.close();
    expect(states.map(([from, to]) => `${from}→${to}`)).toEqual([
      'idle→connecting',
      'connecting→open',
      'open→reconnecting',
      'reconnecting→open',
      'open→closed',
    ]);
    expect(states[2]?.[2]).toBe('closed 1011: oops');
  });

  it('says why on every transition: what the transport decided, and how the welcome found the session', async () => {
    const reasons = async (resume: boolean): Promise<string[]> => {
      const server = await fakeServer({ resume });
      const c = client({ url: server.url });
      const seen: string[] = [];
      c.on('state', (state, { reason }) => seen.push(`${state}: ${reason}`));
      await c.connect();
      (await server.conn(1)).socket.close(1011, 'oops');
      await reach(c, 'reconnecting');
      await reach(c, 'open');
      return seen;
    };
    expect(await reasons(true)).toEqual(['connecting: connect()', 'open: welcome', 'reconnecting: closed 1011: oops', 'open: resumed']);
    expect(await reasons(false)).toEqual(['connecting: connect()', 'open: welcome', 'reconnecting: closed 1011: oops', 'open: session lost']);
  });

  it('a first connect that fails goes back to idle with the reason, and connect() rejects with the typed error', async () => {
    const server = await fakeServer({ onHello: (_hello, socket) => (socket.close(4403, 'not you'), false) });
    const c = client({ url: server.url });
    const seen: string[] = [];
    c.on('state', (state, { reason }) => seen.push(`${state}: ${reason}`));
    const error = await c.connect().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnauthorizedError);
    expect(seen).toEqual(['connecting: connect()', 'idle: connect failed: not you']);
  });

  it('a reconnect refused by a protocol error closes the client, reporting the error once', async () => {
    let hellos = 0;
    const server = await fakeServer({
      onHello: (_hello, socket) => {
        if (++hellos === 1) return true;
        socket.send(JSON.stringify({ t: 'welcome', v: 1, sid: 's', token: 't', resumed: false, seq: 0, win: 8, hb: 1000, max: 4096, codec: 'other' }));
        return false;
      },
    });
    const c = client({ url: server.url });
    const reported: string[] = [];
    c.on('protocol-error', (e) => reported.push(`protocol-error: ${e.message}`));
    c.on('error', (e) => reported.push(`error: ${e.message}`));
    await c.connect();
    const pending = c.send('x', { timeoutMs: 10_000 }).catch((e: unknown) => e);
    (await server.conn(1)).socket.terminate();
    await reach(c, 'closed');
    const other = 'protocol-error: the server chose the codec other, which this client did not offer';
    expect(reported).toEqual([other, `error: ${other.slice('protocol-error: '.length)}`]);
    expect(await pending).toBeInstanceOf(ClosedError);
  });

  it('sends hello with auth (a function is called on every connection) and win = maxBuffered', async () => {
    const server = await fakeServer();
    let n = 0;
    const c = client({ url: server.url, auth: async () => ({ token: `t${++n}` }), maxBuffered: 7 });
    await c.connect();
    (await server.conn(1)).socket.terminate();
    await server.conn(2);
    const nonce = expect.stringMatching(/^[A-Za-z0-9_-]{21}$/);
    expect(server.conns.map((x) => x.hello)).toEqual([
      { t: 'hello', v: 1, auth: { token: 't1' }, win: 7, nonce },
      { t: 'hello', v: 1, auth: { token: 't2' }, win: 7, resume: { sid: 'sid-1', token: 'token-1', seq: 0 }, nonce },
    ]);
    // A nonce names the session one attempt may open: the first was welcomed, so the next is new.
    const [first, second] = server.conns.map((x) => x.hello.nonce);
    expect(second).not.toBe(first);
  });

  it('sends the same nonce again while no welcome has arrived', async () => {
    const nonces: unknown[] = [];
    // The first two hellos get no welcome: their links close (as if it were lost with them).
    const server = await fakeServer({
      onHello: (hello, socket) => {
        if (nonces.push(hello.nonce) > 2) return true;
        socket.terminate();
        return false;
      },
    });
    const c = client({ url: server.url });
    await c.connect({ timeoutMs: 5_000 });
    expect(nonces).toHaveLength(3);
    expect(nonces[0]).toMatch(/^[A-Za-z0-9_-]{21}$/);
    expect(nonces).toEqual([nonces[0], nonces[0], nonces[0]]);
  });

  it('connect() rejects with TimeoutError and goes back to idle; queued sends keep waiting', async () => {
    const silent = await startSilentServer();
    try {
      const c = client({ url: silent.url, connectTimeoutMs: 5_000 });
      const queued = c.send('x', { timeoutMs: 10_000 });
      const error = await c.connect({ timeoutMs: 60 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TimeoutError);
      expect(c.state).toBe('idle');
      expect(c.pending).toBe(1);
      await c.close();
      await expect(queued).rejects.toMatchObject({ name: 'ClosedError', maybeDelivered: false });
    } finally {
      await silent.close();
    }
  });

  it('connect() rejects with AbortError when its signal aborts', async () => {
    const silent = await startSilentServer();
    try {
      const c = client({ url: silent.url });
      const ctl = new AbortController();
      const pending = c.connect({ signal: ctl.signal });
      ctl.abort();
      await expect(pending).rejects.toBeInstanceOf(AbortError);
      expect(c.state).toBe('idle');
    } finally {
      await silent.close();
    }
  });

  it('connect() rejects with UnauthorizedError on 4401 without retrying, back to idle', async () => {
    const server = await fakeServer({ onHello: (_hello, socket) => (socket.close(4401, 'bad token'), false) });
    let hellos = 0;
    server.on('hello', () => hellos++);
    const c = client({ url: server.url });
    const error = await c.connect().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnauthorizedError);
    expect((error as UnauthorizedError).closeCode).toBe(4401);
    expect(c.state).toBe('idle');
    expect(hellos).toBe(1);
  });

  it('a fatal close from the server (4410) closes the client and rejects pending sends with ClosedError', async () => {
    const server = await fakeServer({ handler: () => undefined });
    const c = client({ url: server.url });
    await c.connect();
    const sent = c.send('x');
    const queuedLater = c.receive();
    await server.until(() => server.msgs.length === 1);
    (await server.conn(1)).socket.close(4410, 'session ended');
    const error = await sent.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClosedError);
    expect(error).toMatchObject({ closeCode: 4410, maybeDelivered: true });
    await expect(queuedLater).rejects.toBeInstanceOf(ClosedError);
    expect(c.state).toBe('closed');
    expect(server.conns).toHaveLength(1);
  });

  it('close() sends bye, closes with 1000, rejects what is pending (maybeDelivered per message); idempotent', async () => {
    const server = await fakeServer({ handler: () => undefined });
    const c = client({ url: server.url, maxInFlight: 1 });
    await c.connect();
    const conn = await server.conn(1);
    const closed = within(new Promise<number>((resolve) => conn.socket.once('close', (code) => resolve(code))), "the server socket's 'close'");
    const inFlight = settle(c.send('a'));
    const queued = settle(c.send('b'));
    await server.until(() => server.msgs.length === 1);
    await Promise.all([c.close(), c.close()]);
    expect(await closed).toBe(1000);
    expect(conn.frames.at(-1)).toEqual({ t: 'bye', code: 1000, reason: 'client closed' });
    expect(await inFlight).toMatchObject({ ok: false, error: { name: 'ClosedError', maybeDelivered: true, closeCode: 1000 } });
    expect(await queued).toMatchObject({ ok: false, error: { name: 'ClosedError', maybeDelivered: false } });
    await expect(c.send('c')).rejects.toBeInstanceOf(ClosedError);
    await expect(c.connect()).rejects.toBeInstanceOf(ClosedError);
  });

  it('close({ drain: true }) waits until pending sends are acked', async () => {
    const server = await fakeServer({ handler: () => undefined });
    const c = client({ url: server.url });
    await c.connect();
    const conn = await server.conn(1);
    const sent = c.send('a');
    await server.until(() => server.msgs.length === 1);
    const closing = c.close({ drain: true, timeoutMs: 5_000 });
    await expect(c.send('refused')).rejects.toBeInstanceOf(ClosedError);
    expect(c.state).toBe('open');
    conn.send({ t: 'ack', seq: 1, r: 'done' });
    await closing;
    await expect(sent).resolves.toBe('done');
    expect(c.state).toBe('closed');
  });

  it('close({ drain: true }) rejects with TimeoutError when the drain overruns, and closes anyway', async () => {
    const server = await fakeServer({ handler: () => undefined });
    const c = client({ url: server.url });
    await c.connect();
    const sent = settle(c.send('a'));
    await server.until(() => server.msgs.length === 1);
    await expect(c.close({ drain: true, timeoutMs: 40 })).rejects.toBeInstanceOf(TimeoutError);
    expect(c.state).toBe('closed');
    expect(await sent).toMatchObject({ ok: false, error: { name: 'ClosedError', maybeDelivered: true } });
  });

  it('honours bye.retryMs before reconnecting', async () => {
    const server = await fakeServer();
    const c = client({ url: server.url, random: () => 0, reconnect: { minDelayMs: 5, maxDelayMs: 1_000 } });
    await c.connect();
    const conn = await server.conn(1);
    const reconnecting = next(c, 'reconnecting');
    conn.send({ t: 'bye', code: 1013, reason: 'overloaded', retryMs: 80 });
    conn.socket.close(1013, 'overloaded');
    expect((await reconnecting)[0].delayMs).toBe(80);
    await reach(c, 'open');
  });

  it('with reconnect: false a drop leaves the client idle, and connect() resumes the session', async () => {
    const server = await fakeServer({ handler: (d, f, conn) => (conn === server.conns[0] ? undefined : 'ok') });
    const c = client({ url: server.url, reconnect: false });
    await c.connect();
    const sent = c.send('x');
    await server.until(() => server.msgs.length === 1);
    (await server.conn(1)).socket.terminate();
    await reach(c, 'idle');
    await c.connect();
    await expect(sent).resolves.toBe('ok');
    expect((await server.conn(2)).hello.resume).toMatchObject({ sid: 'sid-1' });
  });

  it('validates options with a TypeError at construction', () => {
    expect(() => new LifelineClient({ url: 'ws://x', maxInFlight: 0 })).toThrow(TypeError);
    expect(() => new LifelineClient({ url: 'ws://x', ackTimeoutMs: -1 })).toThrow(/ackTimeoutMs/);
    expect(() => new LifelineClient({ url: 'ws://x', maxQueued: { bytes: 0 } })).toThrow(/maxQueued.bytes/);
    expect(() => new LifelineClient({ url: 'ws://x', overflow: 'drop' as never })).toThrow(/overflow/);
    expect(() => new LifelineClient({ url: 'ws://x', maxBuffered: 1.5 })).toThrow(/maxBuffered/);
    expect(() => new LifelineClient({ url: 'ws://x', heartbeatTimeoutMs: 0 })).toThrow(/heartbeatTimeoutMs/);
  });
});
