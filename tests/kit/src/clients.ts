import { createClient, type ClientOptions, type LifelineClient } from '@lifeline/sdk';
import { onCleanup } from './cleanup.js';

/** Fast reconnects so fault tests spend their time on faults, not on backoff. */
export const fastReconnect = { minDelayMs: 5, maxDelayMs: 50 } as const;

/** A client of `url` (not yet connected) with fast reconnects; `closeAll` closes it. */
export function client(url: string, options: Partial<ClientOptions> = {}): LifelineClient {
  const c = createClient({ url, reconnect: fastReconnect, ...options });
  onCleanup(() => c.close({ timeoutMs: 1_000 }));
  return c;
}
