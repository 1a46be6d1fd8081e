// One Lifeline node in a child process (bundled by nodes.ts with esbuild): a server on port 0 on
// redisEngine, that records every message it hands to its handler in Redis, publishes when the
// parent asks, and shuts down cleanly on SIGTERM. It talks to the parent over IPC only.
import { createServer, type HandlerContext } from '@lifeline/server';
import { redisEngine } from '@lifeline/redis';
import { Redis } from 'ioredis';
import type { NodeConfig, ToChild, ToParent } from './node-protocol.js';

const config = JSON.parse(process.argv[2] ?? '{}') as NodeConfig;
const tell = (message: ToParent) => {
  if (process.connected) process.send?.(message);
};

// The record of handled ids goes straight to the test's Redis (not through any fault proxy in
// front of the engine's), so the test can trust it whatever it does to the engine's Redis.
const recorder = new Redis(config.recordUrl, { maxRetriesPerRequest: 20, enableOfflineQueue: true });
recorder.on('error', () => {});

const engine = redisEngine({
  url: config.redisUrl,
  keyPrefix: config.keyPrefix,
  ...(config.commandTimeoutMs === undefined ? {} : { commandTimeoutMs: config.commandTimeoutMs }),
  onError: (error) => tell({ t: 'engine-error', message: String(error) }),
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function handler(data: unknown, ctx: HandlerContext): Promise<unknown> {
  // Recorded before the work: a node killed after this line hands the id over flagged.
  await recorder.hincrby(`${config.recordPrefix}${ctx.redelivered ? 'redelivered' : 'handled'}`, ctx.id, 1);
  if (config.handlerDelayMs) await sleep(config.handlerDelayMs);
  // Ids ending in '!' fail: the error ack must travel across nodes like a result does.
  if (ctx.id.endsWith('!')) throw Object.assign(new Error(`${ctx.id} fails by design`), { code: 'E_TEST' });
  const n = (data as { n: number }).n;
  return { n, sq: (n * n) % 1_000_003 };
}

const server = createServer({ ...config.server, port: 0, host: '127.0.0.1', engine, handler });
server.on('error', (error) => tell({ t: 'server-error', message: String(error) }));

let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  // Bounded: whatever hangs, the process ends.
  setTimeout(() => process.exit(code), (config.closeTimeoutMs ?? 3_000) + 2_000).unref();
  await server.close({ timeoutMs: config.closeTimeoutMs ?? 3_000, retryMs: 50 }).catch(() => {});
  await engine.close().catch(() => {});
  recorder.disconnect();
  process.exit(code);
}

process.on('SIGTERM', () => void stop(0));
// The parent went away: nobody will kill this node, so it ends itself.
process.on('disconnect', () => void stop(0));
process.on('uncaughtException', (error) => {
  tell({ t: 'crash', message: String(error?.stack ?? error) });
  process.exit(70);
});
process.on('unhandledRejection', (error) => {
  tell({ t: 'crash', message: `unhandled rejection: ${String((error as Error)?.stack ?? error)}` });
  process.exit(70);
});

process.on('message', (message: ToChild) => {
  if (message.t !== 'publish') return;
  server.publish(message.ch, message.data, { id: message.id }).then(
    (r) => tell({ t: 'published', ref: message.ref, offset: r.offset, epoch: r.epoch }),
    (error: unknown) => tell({ t: 'publish-failed', ref: message.ref, message: String(error) }),
  );
});

server.listen().then(
  () => tell({ t: 'ready', port: server.port, pid: process.pid }),
  (error: unknown) => {
    tell({ t: 'crash', message: `listen failed: ${String(error)}` });
    process.exit(71);
  },
);
