/**
 * One Lifeline server node of the engines benchmark, in its own process so its CPU is its own.
 * argv[2]: JSON `{ engine: 'embedded' | 'memory' | 'redis', url, keyPrefix }`. Reports
 * `{ type: 'ready', port }` by IPC, then answers:
 * - `stats`: this process's `process.cpuUsage()`, the Redis commands it sent (counted at the
 *   ioredis client, so other clients of that Redis add nothing), messages handled, redeliveries;
 * - `push { count, window }`: `session.send()` to the newest session, at most `window` not yet
 *   acknowledged by the client, until `count` are; resolves with the time it took;
 * - `close`: `server.close()`, then the engine's `close()`.
 */
import { serveParent } from '../spawn.mjs';
import { withDeadline } from '../deadline.mjs';
import { PAYLOAD, RESULT } from '../payload.mjs';
import { benchRedisEngine } from './redis.mjs';

const { engine: kind, url, keyPrefix, pushMs = 300_000 } = JSON.parse(process.argv[2]);

let redisCommands = 0;
async function makeEngine() {
  if (kind === 'embedded') return undefined;
  if (kind === 'memory') return (await import('@lifeline/server')).memoryEngine();
  if (kind !== 'redis') throw new Error(`unknown engine ${kind}`);
  // Every command of every ioredis client in this process (the engine's and its subscriber)
  // passes through sendCommand: counting here is exact, whatever else uses the same Redis.
  const { Redis } = await import('ioredis');
  const send = Redis.prototype.sendCommand;
  Redis.prototype.sendCommand = function counted(...args) {
    redisCommands++;
    return send.apply(this, args);
  };
  return benchRedisEngine(url, keyPrefix, 'engines bench node');
}

const engine = await makeEngine();
const { createServer } = await import('@lifeline/server');
let handled = 0;
let redelivered = 0;
let errors = 0;
const server = createServer({
  port: 0,
  host: '127.0.0.1',
  engine,
  handler: (_data, ctx) => {
    handled++;
    if (ctx.redelivered) redelivered++;
    return RESULT;
  },
});
server.on('error', (error) => {
  if (errors++ < 5) console.error(`engines bench node: server error: ${error?.message ?? error}`);
});
let newest;
server.on('session', (session) => {
  newest = session;
});
await withDeadline(server.listen(), 10_000, 'lifeline listen');

function push(count, window) {
  const session = newest;
  if (!session) throw new Error('no session to push to');
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const all = new Promise((resolve, reject) => {
    let sent = 0;
    let acked = 0;
    const more = () => {
      while (sent < count && sent - acked < window) {
        sent++;
        session.send(PAYLOAD).then(() => {
          if (++acked === count) resolve();
          else more();
        }, reject);
      }
    };
    more();
  });
  return withDeadline(all, pushMs, `${count} pushes acknowledged`).then(() => {
    const cpu = process.cpuUsage(cpu0);
    return { ms: performance.now() - t0, cpuUs: cpu.user + cpu.system };
  });
}

serveParent(
  {
    stats: () => ({ cpu: process.cpuUsage(), redisCommands, handled, redelivered, errors }),
    push: ({ count, window }) => push(count, window),
  },
  async () => {
    await withDeadline(server.close(), 5_000, 'lifeline close').catch(() => {});
    await withDeadline(Promise.resolve(engine?.close()), 3_000, 'engine close').catch(() => {});
  },
);

process.send({ type: 'ready', port: server.port });
