import { afterEach, describe, expect, it } from 'vitest';
import type { Json } from '@lifeline/server';
import { client, closeAll, nextEvent, startProxy, startServer, until } from '@lifeline/test-kit';

afterEach(closeAll);

/**
 * Issue 9: an auth backend that is down for a moment makes `authenticate` throw. That is the
 * server's problem, not a refusal: the server reports it on its `error` event and answers
 * `bye` 1013 with `retryMs`; the SDK backs off, retries, and resumes its session with every
 * pending send intact. A refusal (`false`) stays 4401, final.
 */
function flakyAuth(): { authenticate: (auth: Json | undefined) => unknown; failNext: (n: number) => void; calls: () => number } {
  let failing = 0;
  let calls = 0;
  return {
    authenticate: (auth) => {
      calls++;
      if (failing > 0) {
        failing--;
        throw new Error('auth backend unavailable');
      }
      return { sub: (auth as { user: string }).user, iat: calls }; // a fresh iat on every call, like a refreshed JWT
    },
    failNext: (n) => void (failing = n),
    calls: () => calls,
  };
}

describe('a flaky authenticate', () => {
  it('throwing on 3 reconnect attempts: the client backs off, comes back, resumes, and its pending sends resolve', async () => {
    const auth = flakyAuth();
    const handled: string[] = [];
    const server = await startServer({
      authenticate: auth.authenticate,
      overloadRetryMs: 20,
      handler: (data, ctx) => (handled.push(ctx.id), { ok: data }),
    });
    const errors: unknown[] = [];
    server.on('error', (e) => errors.push(e));
    const proxy = await startProxy(server.port);
    const c = client(proxy.url(), { auth: { user: 'alice' } });
    const states: string[] = [];
    c.on('state', (s) => states.push(s));
    const lost: unknown[] = [];
    c.on('session-lost', (info) => lost.push(info));
    await c.connect({ timeoutMs: 5_000 });
    const sid = c.sessionId;
    expect(await c.send('before')).toEqual({ ok: 'before' });

    auth.failNext(3);
    const resumed = nextEvent(c, 'resumed', 10_000);
    proxy.cutAll();
    // Sent while the link is down and while authenticate keeps failing: they wait in the outbox.
    const pending = ['p1', 'p2', 'p3'].map((d) => c.send(d, { timeoutMs: 10_000 }));
    await resumed;
    expect(await Promise.all(pending)).toEqual([{ ok: 'p1' }, { ok: 'p2' }, { ok: 'p3' }]);
    expect(c.sessionId).toBe(sid);
    expect(c.state).toBe('open');
    expect(lost).toEqual([]);
    expect(states).not.toContain('closed');
    expect(auth.calls()).toBe(5); // the first connect, three failures, the resume
    // Each failure was reported to the server's owner, with its cause.
    expect(errors).toHaveLength(3);
    expect(errors.map((e) => ((e as Error).cause as Error).message)).toEqual(Array(3).fill('auth backend unavailable'));
    expect(handled).toHaveLength(4); // each message handled once
  });

  it('throwing on the first connect: connect() still resolves once authenticate works again', async () => {
    const auth = flakyAuth();
    auth.failNext(2);
    const server = await startServer({ authenticate: auth.authenticate, overloadRetryMs: 20, handler: (d) => d });
    server.on('error', () => {});
    const c = client(`ws://127.0.0.1:${server.port}`, { auth: { user: 'bob' } });
    const queued = c.send('queued before connect');
    await c.connect({ timeoutMs: 5_000 });
    expect(await queued).toBe('queued before connect');
    expect(auth.calls()).toBe(3);
  });

  it('a refusal on reconnect is still final: 4401, the client closes and its pending sends reject', async () => {
    let allowed = true;
    const server = await startServer({ authenticate: () => allowed && { sub: 'eve' }, handler: (d) => d });
    const errors: unknown[] = [];
    server.on('error', (e) => errors.push(e));
    const proxy = await startProxy(server.port);
    const c = client(proxy.url(), { auth: { user: 'eve' } });
    await c.connect({ timeoutMs: 5_000 });
    allowed = false;
    const failed = nextEvent<Error>(c, 'error', 5_000);
    proxy.cutAll();
    const pending = c.send('x').catch((e: unknown) => e);
    expect(await failed).toMatchObject({ code: 'ERR_UNAUTHORIZED' });
    await until(c, 'state', () => c.state === 'closed', 5_000);
    expect(await pending).toMatchObject({ code: 'ERR_CLOSED' });
    expect(errors).toEqual([]); // a refusal is not the server's problem
  });
});
