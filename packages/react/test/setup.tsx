import { cleanup } from '@testing-library/react';
import { afterEach } from 'vitest';
import { WebSocket } from 'ws';
import { closeAll, fastReconnect } from '@lifeline/test-kit';
import type { ClientOptions } from '@lifeline/sdk';

// Unmount first (owned clients close), then the servers and proxies the test started.
afterEach(async () => {
  cleanup();
  await closeAll();
});

/** Client options for a test: Node's `ws` (the DOM environment's own WebSocket is not under test here), fast reconnects. */
export const optionsFor = (url: string, extra: Partial<ClientOptions> = {}): ClientOptions => ({
  url,
  WebSocket: WebSocket as unknown as ClientOptions['WebSocket'],
  reconnect: fastReconnect,
  ...extra,
});
