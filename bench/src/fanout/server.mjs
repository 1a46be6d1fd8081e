/**
 * The server side of the fan-out benchmark, in its own process so its CPU is its own.
 * argv[2]: JSON `{ peer: 'lifeline' | 'socketio' }`. Reports `{ type: 'ready', port }`, then answers
 * `publish { count, window }` (publishes `count` ticks, at most `window` not yet delivered to every
 * subscriber: the coordinator releases the next ones through `release`), `mem`, `cpu`, `close`.
 * Each tick carries its publish time (`t`, ms since the epoch with sub-ms precision) for latency.
 */
import { serveParent } from '../spawn.mjs';
import { withDeadline } from '../deadline.mjs';

const { peer } = JSON.parse(process.argv[2]);
const CHANNEL = 'ticker';
const now = () => performance.timeOrigin + performance.now();
let seq = 0;
const tick = () => ({ sym: 'LFL', px: 101.25 + (seq % 7) * 0.01, qty: 3, side: seq % 2 ? 'b' : 's', i: ++seq, t: now() });

async function lifeline() {
  const { createServer, memoryEngine } = await import('@lifeline/server');
  const server = createServer({
    port: 0,
    host: '127.0.0.1',
    handler: () => null,
    // The bench opens 10,000 connections from one address as fast as the client process can.
    maxPendingHandshakes: 20_000,
    maxPendingHandshakesPerAddress: 20_000,
    engine: memoryEngine({ maxMembers: 20_000 }),
    // A ticker: readers do not show each other, so no join/leave per arrival (N² frames for N).
    channels: { historySize: 1_000, joinLeave: false },
  });
  await withDeadline(server.listen(), 5_000, 'lifeline listen');
  return {
    port: server.port,
    // Resolves once the publication is stored; delivery to the sockets follows (encode once, hub.ts).
    publish: () => server.publish(CHANNEL, tick()),
    close: () => withDeadline(server.close(), 5_000, 'lifeline close'),
  };
}

async function socketio() {
  const { createServer } = await import('node:http');
  const { Server } = await import('socket.io');
  const http = createServer();
  const io = new Server(http, { transports: ['websocket'], serveClient: false });
  io.on('connection', (socket) => socket.on('join', (room, done) => (socket.join(room), done())));
  await new Promise((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', resolve);
  });
  return {
    port: http.address().port,
    // Socket.IO encodes a room emit once too; nothing is stored and nothing is acknowledged.
    publish: () => io.to(CHANNEL).emit('tick', tick()),
    close: () => withDeadline(new Promise((resolve) => (io.disconnectSockets(true), io.close(() => resolve()))), 5_000, 'socket.io close').catch(() => http.closeAllConnections()),
  };
}

const server = peer === 'lifeline' ? await lifeline() : await socketio();
let released = 0;
let wake;

serveParent(
  {
    mem: () => {
      globalThis.gc?.();
      const m = process.memoryUsage();
      return { heap: m.heapUsed, rss: m.rss };
    },
    cpu: () => process.cpuUsage(),
    release: ({ upTo }) => {
      released = Math.max(released, upTo);
      wake?.();
    },
    publish: async ({ count, window }) => {
      released = 0;
      const stored = [];
      for (let i = 0; i < count; i++) {
        // Windowed: wait until the coordinator says the window has room (deliveries reported by the clients).
        if (i >= released + window) {
          await withDeadline(new Promise((resolve) => (wake = resolve)), 60_000, 'fan-out window');
          i--;
          continue;
        }
        stored.push(server.publish());
      }
      await withDeadline(Promise.all(stored), 60_000, 'publish');
      return count;
    },
  },
  () => server.close(),
);

process.send({ type: 'ready', port: server.port });
