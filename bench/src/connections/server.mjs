/**
 * The server side of the connections benchmark (issue 14), in its own process. argv[2]: JSON
 * `{ peer: 'lifeline' | 'lifeline-redis' | 'ws' | 'ws-greeted', port, redisUrl, keyPrefix }` (port
 * 0: any; a restart passes the previous one and the same prefix; `lifeline-redis` keeps its
 * sessions in `redisEngine` under `keyPrefix`, so a restarted server resumes them). Reports
 * `{ type: 'ready', port }`, then answers `mem` (after a full GC: heap, RSS, and the young
 * generation's committed size), `cpu`, `count` (open
 * connections), `close`. No handler work: what is measured is what a held connection costs.
 */
import { getHeapSpaceStatistics } from 'node:v8';
import { serveParent } from '../spawn.mjs';
import { profileCommands } from './profile.mjs';
import { withDeadline } from '../deadline.mjs';
import { benchRedisEngine } from '../engines/redis.mjs';

const { peer, port, redisUrl, keyPrefix } = JSON.parse(process.argv[2]);

async function lifeline() {
  const { createServer } = await import('@lifeline/server');
  const engine = peer === 'lifeline-redis' ? await benchRedisEngine(redisUrl, keyPrefix, 'connections bench server') : undefined;
  const server = createServer({
    port,
    host: '127.0.0.1',
    engine,
    handler: () => null,
    // 18,000 clients from one address connect, and reconnect after a restart, all at once.
    maxPendingHandshakes: 20_000,
    maxPendingHandshakesPerAddress: 20_000,
  });
  await withDeadline(server.listen(), 5_000, 'lifeline listen');
  // Counted as `ws` counts its clients, by the server's own collection: a listener on each session
  // would be the app's cost (~80 bytes of each), which the bare server is not charged either.
  const close = async () => {
    await server.close();
    await engine?.close();
  };
  return { port: server.port, count: () => server.sessions.size, close: () => withDeadline(close(), 10_000, 'lifeline close') };
}

/** `ws-greeted`: answers each connection's first message once, as a server greets its client. */
function greet() {
  this.send('welcome');
}

async function bare() {
  const { WebSocketServer } = await import('ws');
  const wss = new WebSocketServer({ port, host: '127.0.0.1', perMessageDeflate: false });
  await new Promise((resolve, reject) => (wss.once('listening', resolve), wss.once('error', reject)));
  if (peer === 'ws-greeted') wss.on('connection', (ws) => ws.once('message', greet));
  return {
    port: wss.address().port,
    count: () => wss.clients.size,
    close: () => withDeadline(new Promise((resolve) => (wss.clients.forEach((c) => c.terminate()), wss.close(() => resolve()))), 10_000, 'ws close'),
  };
}

const server = peer.startsWith('lifeline') ? await lifeline() : await bare();
serveParent(
  {
    mem: () => {
      globalThis.gc?.();
      globalThis.gc?.();
      const m = process.memoryUsage();
      // V8's young generation grows with the allocation rate of the connect storm, not with what
      // a held connection keeps: its committed size is reported so it can be told apart in RSS.
      const young = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
      return { heap: m.heapUsed, rss: m.rss, young };
    },
    cpu: () => process.cpuUsage(),
    ...profileCommands,
    count: () => server.count(),
  },
  () => server.close(),
);
process.send({ type: 'ready', port: server.port });
