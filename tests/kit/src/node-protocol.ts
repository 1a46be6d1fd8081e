import type { ServerOptions } from '@lifeline/server';

/** How the parent configures a node child (passed as JSON in argv). */
export interface NodeConfig {
  /** Where the node's redisEngine connects (maybe through a fault proxy). */
  readonly redisUrl: string;
  readonly keyPrefix: string;
  /** Where the handler records each id it is handed (the test's own view, never faulted). */
  readonly recordUrl: string;
  /** Hash keys `${recordPrefix}handled` and `${recordPrefix}redelivered`, field = message id. */
  readonly recordPrefix: string;
  readonly commandTimeoutMs?: number;
  /** The handler waits this long after recording, so a kill can land mid-handler. */
  readonly handlerDelayMs?: number;
  /** `server.close({ timeoutMs })` on SIGTERM. @default 3_000 */
  readonly closeTimeoutMs?: number;
  /** Plain server options (JSON only: heartbeats, limits). */
  readonly server?: Partial<Omit<ServerOptions, 'handler' | 'engine' | 'server' | 'port' | 'host'>>;
}

export type ToChild = { readonly t: 'publish'; readonly ref: number; readonly ch: string; readonly data: unknown; readonly id: string };

export type ToParent =
  | { readonly t: 'ready'; readonly port: number; readonly pid: number }
  | { readonly t: 'published'; readonly ref: number; readonly offset: number; readonly epoch: string }
  | { readonly t: 'publish-failed'; readonly ref: number; readonly message: string }
  | { readonly t: 'engine-error' | 'server-error' | 'crash'; readonly message: string };
