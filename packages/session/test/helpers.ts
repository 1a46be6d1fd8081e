import { afterEach } from 'vitest';
import { closeAll, onCleanup } from '@lifeline/test-kit';
import { LifelineClient, type ClientOptions } from '../src/index.js';
import { FakeServer, type FakeServerOptions } from './fake-server.js';

/** Registers the afterEach that closes every server and client a test made. */
export function useFixtures(): void {
  afterEach(closeAll);
}

export async function fakeServer(options?: FakeServerOptions): Promise<FakeServer> {
  const server = await new FakeServer(options).start();
  onCleanup(() => server.close());
  return server;
}

/** A client built from this package's source (not the SDK), with fast defaults: quick reconnects. */
export function client(options: ClientOptions): LifelineClient {
  const c = new LifelineClient({ reconnect: { minDelayMs: 5, maxDelayMs: 20 }, ...options });
  c.on('error', () => {});
  onCleanup(() => c.close());
  return c;
}
