import { afterEach } from 'vitest';
import { LifelineClient, type ClientEvents, type ClientOptions } from '../src/index.js';
import { FakeServer, type FakeServerOptions } from './fake-server.js';
import { within } from './within.js';

export { within };

const cleanup: Array<() => unknown> = [];

/** Registers the afterEach that closes every server and client a test made. */
export function useFixtures(): void {
  afterEach(async () => {
    while (cleanup.length > 0) await cleanup.pop()?.();
  });
}

export async function fakeServer(options?: FakeServerOptions): Promise<FakeServer> {
  const server = await new FakeServer(options).start();
  cleanup.push(() => server.close());
  return server;
}

/** Fast defaults for tests: quick reconnects, no surprises from Math.random. */
export function client(options: ClientOptions): LifelineClient {
  const c = new LifelineClient({ reconnect: { minDelayMs: 5, maxDelayMs: 20 }, ...options });
  c.on('error', () => {});
  cleanup.push(() => c.close());
  return c;
}

/** The arguments of the client's next `event`. */
export function next<E extends keyof ClientEvents>(c: LifelineClient, event: E): Promise<Parameters<ClientEvents[E]>> {
  const held = new Promise<Parameters<ClientEvents[E]>>((resolve) =>
    c.once(event, ((...args: Parameters<ClientEvents[E]>) => resolve(args)) as never),
  );
  return within(held, `'${event}'`);
}

/** Resolves when the client reaches `state`. */
export function reach(c: LifelineClient, state: LifelineClient['state']): Promise<void> {
  if (c.state === state) return Promise.resolve();
  let check = (_: string) => {};
  const held = new Promise<void>((resolve) => {
    check = (s) => {
      if (s === state) resolve();
    };
    c.on('state', check);
  });
  return within(held, `state '${state}'`).finally(() => c.off('state', check));
}

/** Settle a promise into a value or its error, for assertions. */
export function settle<T>(promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}
