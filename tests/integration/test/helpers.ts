import { FaultProxy } from '@lifeline/fault-proxy';
import { createClient, type ClientOptions, type LifelineClient } from '@lifeline/sdk';
import { createServer, type ServerOptions, type LifelineServer } from '@lifeline/server';

/** Everything a test opens, closed in reverse order by `closeAll` (called from afterEach). */
const open: Array<() => Promise<unknown>> = [];

export async function closeAll(): Promise<void> {
  const errors: unknown[] = [];
  while (open.length > 0) {
    try {
      await open.pop()?.();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed');
}

export async function startServer(options: Partial<ServerOptions> & Pick<ServerOptions, 'handler'>): Promise<LifelineServer> {
  const server = createServer({ port: 0, host: '127.0.0.1', ...options });
  await server.listen();
  open.push(() => server.close({ timeoutMs: 1_000 }));
  return server;
}

export async function startProxy(port: number): Promise<FaultProxy> {
  const proxy = await FaultProxy.start({ target: { port } });
  open.push(() => proxy.close());
  return proxy;
}

/** Fast reconnects so fault tests spend their time on faults, not on backoff. */
export const fastReconnect = { minDelayMs: 5, maxDelayMs: 50 } as const;

export function client(url: string, options: Partial<ClientOptions> = {}): LifelineClient {
  const c = createClient({ url, reconnect: fastReconnect, ...options });
  open.push(() => c.close({ timeoutMs: 1_000 }));
  return c;
}

/** The typed EventEmitter3 emitters of the client and server, seen loosely by test helpers. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Listener = (...args: any[]) => void;
interface Emitter {
  on(event: string, fn: Listener): unknown;
  once(event: string, fn: Listener): unknown;
  off(event: string, fn: Listener): unknown;
}
const loose = (e: unknown) => e as Emitter;

/** Resolve when `predicate` holds, re-checked on each `event` of `emitter`; reject after `timeoutMs`. */
export function until(
  target: unknown,
  event: string,
  predicate: () => boolean,
  timeoutMs = 10_000,
): Promise<void> {
  if (predicate()) return Promise.resolve();
  const emitter = loose(target);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, check);
      reject(new Error(`timed out after ${timeoutMs} ms waiting on '${event}'`));
    }, timeoutMs);
    const check = () => {
      if (!predicate()) return;
      clearTimeout(timer);
      emitter.off(event, check);
      resolve();
    };
    emitter.on(event, check);
  });
}

/** A promise with its resolver, for gates a handler waits on. */
export function gate<T = void>(): { promise: Promise<T>; open: (value: T) => void } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}

/** Wait for the next `event` from `emitter`, with a deadline. */
export function next<T = unknown>(target: unknown, event: string, timeoutMs = 10_000): Promise<T> {
  const emitter = loose(target);
  return new Promise((resolve, reject) => {
    const handler = (value: T) => {
      clearTimeout(timer);
      resolve(value);
    };
    const timer = setTimeout(() => {
      emitter.off(event, handler);
      reject(new Error(`no '${event}' within ${timeoutMs} ms`));
    }, timeoutMs);
    emitter.once(event, handler);
  });
}
