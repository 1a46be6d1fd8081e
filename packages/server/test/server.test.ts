import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { RawClient, closeAll, gate, nextEvent, nextSession, startServer, urlOf } from '@lifeline/test-kit';
import { ClosedError, createServer, serverDefaults, type ServerOptions } from '../src/index.js';

afterEach(closeAll);

describe('server.close()', () => {
  it('lets a running handler finish, sends its ack, bye 1001 with retryMs, closes 1001 and rejects pending sends', async () => {
    const release = gate();
    const server = await startServer({
      handler: async () => {
        await release.promise;
        return 'finished';
      },
    });
    const sessionP = nextSession(server);
    const { client } = await RawClient.connect(urlOf(server));
    const session = await sessionP;
    const pending = session.send('unacked').catch((e: unknown) => e);
    await client.next();
    client.sendMsgs([{ seq: 1, d: 0 }]);
    client.send({ t: 'ping', ts: 1 });
    await client.next((f) => f.t === 'pong');
    const sessionClosed = nextEvent<{ reason: string }>(session as never, 'close');

    const closing = server.close({ timeoutMs: 2_000, retryMs: 750 });
    release.open();
    await closing;
    expect(await client.next()).toEqual({ t: 'ack', seq: 1, r: 'finished' });
    expect(await client.next()).toEqual({ t: 'bye', code: 1001, reason: 'server shutting down', retryMs: 750 });
    expect(await client.closedWith()).toBe(1001);
    expect(await sessionClosed).toEqual({ reason: 'server-closed' });
    const error = (await pending) as ClosedError;
    expect(error).toBeInstanceOf(ClosedError);
    expect(error.closeCode).toBe(1001);
    expect(error.maybeDelivered).toBe(true);
    expect(server.sessions.size).toBe(0);
    await expect(server.close()).resolves.toBeUndefined(); // idempotent
  });

  it('does not wait past its deadline for a handler that never finishes', async () => {
    const server = await startServer({ handler: () => new Promise(() => {}) });
    const { client } = await RawClient.connect(urlOf(server));
    client.sendMsgs([{ seq: 1, d: 0 }]);
    client.send({ t: 'ping', ts: 1 });
    await client.next((f) => f.t === 'pong');
    const started = performance.now();
    await server.close({ timeoutMs: 100 });
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(await client.closedWith()).toBe(1001);
  });

  it('attaches to an existing http.Server and leaves it open', async () => {
    const http: HttpServer = createHttpServer((_req, res) => res.end('plain http'));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    try {
      const server = createServer({ server: http, path: '/live', handler: (d) => d });
      await server.listen();
      const port = server.port;
      const { client } = await RawClient.connect(`ws://127.0.0.1:${port}/live`);
      client.sendMsgs([{ seq: 1, d: 'via shared server' }]);
      expect(await client.acks(1)).toEqual([{ seq: 1, r: 'via shared server' }]);
      await server.close({ timeoutMs: 500 });
      expect(http.listening).toBe(true);
      const res = await fetch(`http://127.0.0.1:${port}/`);
      expect(await res.text()).toBe('plain http');
    } finally {
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    }
  });

  it('answers plain HTTP on its own server with 426', async () => {
    const server = await startServer();
    const res = await fetch(`http://127.0.0.1:${server.port}/`);
    expect(res.status).toBe(426);
    await res.text();
  });
});

describe('options', () => {
  const handler = () => null;

  it('has documented defaults', () => {
    expect(serverDefaults).toMatchObject({
      port: 0,
      host: '127.0.0.1',
      resumeWindowMs: 120_000,
      heartbeatIntervalMs: 15_000,
      heartbeatTimeoutMs: 30_000,
      handshakeTimeoutMs: 10_000,
      maxPayloadBytes: 1024 * 1024,
      maxInFlight: 65_535,
      maxInFlightShared: 1_024,
      maxQueued: { messages: 10_000, bytes: 16 * 1024 * 1024 },
      overflow: 'wait',
      ackTimeoutMs: 30_000,
    });
  });

  it.each<[string, Partial<ServerOptions>]>([
    ['a missing handler', { handler: undefined as never }],
    ['a negative port', { port: -1 }],
    ['a fractional heartbeat', { heartbeatIntervalMs: 1.5 }],
    ['a zero heartbeat timeout', { heartbeatTimeoutMs: 0 }],
    ['NaN resume window', { resumeWindowMs: Number.NaN }],
    ['a zero maxInFlight', { maxInFlight: 0 }],
    ['a zero maxQueued', { maxQueued: 0 }],
    ['negative maxQueued bytes', { maxQueued: { bytes: -1 } }],
    ['an unknown overflow policy', { overflow: 'drop' as never }],
    ['a path without a slash', { path: 'ws' }],
    ['a timer too long for setTimeout', { handshakeTimeoutMs: 2 ** 31 }],
  ])('rejects %s with a TypeError at construction', (_name, options) => {
    expect(() => createServer({ handler, ...options })).toThrow(TypeError);
  });

  it('keeps 0 where 0 is meaningful (?? not ||)', async () => {
    const server = await startServer({ resumeWindowMs: 0 });
    const sessionP = nextSession(server);
    const { client } = await RawClient.connect(urlOf(server));
    const session = await sessionP;
    const closed = nextEvent<{ reason: string }>(session as never, 'close');
    client.ws.terminate();
    expect(await closed).toEqual({ reason: 'expired' });
  });
});
