import { afterEach, describe, expect, it } from 'vitest';
import { RawClient, closeAll, nextEvent, nextSession, startServer, urlOf } from '@lifeline/test-kit';
import { CloseCode, memoryEngine, type ProtocolErrorInfo } from '../src/index.js';

afterEach(closeAll);

describe('handshake', () => {
  it('announces a 65,535 window with got on one node, and 1,024 without got on a shared engine', async () => {
    const one = await RawClient.connect(urlOf(await startServer()));
    expect(one.welcome).toMatchObject({ win: 65_535, got: true });
    const engine = memoryEngine();
    const shared = await RawClient.connect(urlOf(await startServer({ engine })));
    expect(shared.welcome.win).toBe(1_024);
    expect(shared.welcome.got).toBeUndefined();
    await engine.close();
  });

  it('answers hello with a welcome carrying the documented fields', async () => {
    const server = await startServer({ maxInFlight: 77, heartbeatIntervalMs: 1_234, maxPayloadBytes: 4_096 });
    const session = nextSession(server);
    const { welcome } = await RawClient.connect(urlOf(server));
    expect(welcome).toEqual({
      t: 'welcome',
      v: 1,
      sid: expect.any(String),
      token: expect.any(String),
      resumed: false,
      seq: 0,
      win: 77,
      hb: 1_234,
      max: 4_096,
      got: true,
    });
    // 32 random bytes, base64url.
    expect(welcome.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const s = await session;
    expect(s.id).toBe(welcome.sid);
    expect(s.identity).toBeNull();
    expect(s.connected).toBe(true);
    expect(server.sessions.get(s.id)).toBe(s);
  });

  it('passes hello.auth and the request to authenticate; its value becomes the identity', async () => {
    const seen: unknown[] = [];
    const server = await startServer({
      authenticate: async (auth, req) => {
        seen.push(auth, typeof req.headers.host);
        return { user: 'ada' };
      },
    });
    const session = nextSession(server);
    await RawClient.connect(urlOf(server), { auth: { token: 'secret' } });
    expect(seen).toEqual([{ token: 'secret' }, 'string']);
    expect((await session).identity).toEqual({ user: 'ada' });
  });

  it.each([
    ['returns false', () => false],
    ['returns null', () => null],
    ['returns undefined', () => undefined],
  ])('refuses with 4401 when authenticate %s', async (_name, authenticate) => {
    const server = await startServer({ authenticate });
    const errors: ProtocolErrorInfo[] = [];
    server.on('protocol-error', (e) => errors.push(e));
    const client = await RawClient.open(urlOf(server));
    client.send({ t: 'hello', v: 1, auth: 'x' });
    expect(await client.closedWith()).toBe(CloseCode.Unauthorized);
    expect(errors.map((e) => e.code)).toEqual([4401]);
    expect(server.sessions.size).toBe(0);
  });

  it.each([
    ['throws', () => {
      throw new Error('auth backend down');
    }],
    ['rejects', () => Promise.reject(new Error('auth backend down'))],
  ])('when authenticate %s: error event, bye 1013 with retryMs, close 1013 (retryable), no session', async (_name, authenticate) => {
    const server = await startServer({ authenticate, overloadRetryMs: 250 });
    const errors: unknown[] = [];
    const protocolErrors: ProtocolErrorInfo[] = [];
    server.on('error', (e) => errors.push(e));
    server.on('protocol-error', (e) => protocolErrors.push(e));
    const client = await RawClient.open(urlOf(server));
    client.send({ t: 'hello', v: 1, auth: 'x' });
    expect(await client.next((f) => f.t === 'bye')).toMatchObject({ code: CloseCode.TryAgainLater, retryMs: 250 });
    expect(await client.closedWith()).toBe(CloseCode.TryAgainLater);
    expect(errors).toHaveLength(1);
    expect(((errors[0] as Error).cause as Error).message).toBe('auth backend down');
    expect(protocolErrors).toEqual([]); // the peer did nothing wrong
    expect(server.sessions.size).toBe(0);
  });

  it('bounds authenticate by the handshake deadline (4408)', async () => {
    const server = await startServer({ handshakeTimeoutMs: 100, authenticate: () => new Promise(() => {}) });
    const client = await RawClient.open(urlOf(server));
    client.send({ t: 'hello', v: 1 });
    expect(await client.closedWith()).toBe(CloseCode.HandshakeTimeout);
  });

  it('closes a second hello with 4400', async () => {
    const server = await startServer();
    const { client } = await RawClient.connect(urlOf(server));
    const error = nextEvent<ProtocolErrorInfo>(server as never, 'protocol-error');
    client.send({ t: 'hello', v: 1 });
    expect(await client.closedWith()).toBe(CloseCode.BadFrame);
    expect(await error).toMatchObject({ code: 4400, reason: 'a second hello', sessionId: expect.any(String) });
  });

  it('handles frames batched with hello after the welcome', async () => {
    const server = await startServer({ handler: (d) => ({ got: d }) });
    const client = await RawClient.open(urlOf(server));
    client.send([
      { t: 'hello', v: 1 },
      { t: 'msg', seq: 1, id: 'a', ts: 1, d: 'x' },
    ]);
    expect((await client.next()).t).toBe('welcome');
    expect(await client.acks(1)).toEqual([{ seq: 1, r: { got: 'x' } }]);
  });

  it('rejects an upgrade on another path with 404 when a path is set', async () => {
    const server = await startServer({ path: '/ws' });
    await expect(RawClient.open(`${urlOf(server)}/other`)).rejects.toThrow();
    const { welcome } = await RawClient.connect(`${urlOf(server)}/ws?x=1`);
    expect(welcome.resumed).toBe(false);
  });
});
