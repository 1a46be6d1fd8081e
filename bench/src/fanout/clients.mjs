/**
 * The subscribers of the fan-out benchmark: `count` clients in this process, each its own
 * WebSocket, all subscribed to one channel (Lifeline) or joined to one room (Socket.IO).
 * argv[2]: JSON `{ peer, port, count }`. Reports `{ type: 'ready' }` once every subscriber is in,
 * then `{ type: 'done', upTo }` each time the publications 1..upTo have reached every subscriber
 * here (the coordinator's window), and answers `stats` (deliveries, latency percentiles in µs,
 * client CPU), `reset`, `close`.
 */
import hdr from 'hdr-histogram-js';
import { serveParent } from '../spawn.mjs';
import { withDeadline } from '../deadline.mjs';

const { peer, port, count } = JSON.parse(process.argv[2]);
const CHANNEL = 'ticker';
const CONNECT_AT_ONCE = 200;
const now = () => performance.timeOrigin + performance.now();

let histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
let deliveries = 0;
let duplicates = 0;
// Per publication index: how many subscribers here got it; `upTo`: every one of 1..upTo reached all.
let reached = new Map();
let upTo = 0;
let reportScheduled = false;
// The first tick index this round saw, minus one: ticks are numbered across rounds by the server.
let base = -1;

function delivered(tick, seen) {
  histogram.recordValue(Math.max(1, Math.round((now() - tick.t) * 1000)));
  if (seen.has(tick.i)) duplicates++;
  else seen.add(tick.i);
  deliveries++;
  if (base < 0) base = tick.i - 1;
  const i = tick.i - base;
  const n = (reached.get(i) ?? 0) + 1;
  reached.set(i, n);
  if (n === count) {
    while (reached.get(upTo + 1) === count) reached.delete(++upTo);
    if (!reportScheduled) {
      reportScheduled = true;
      setImmediate(() => {
        reportScheduled = false;
        process.send?.({ type: 'done', upTo });
      });
    }
  }
}

async function lifelineSubscriber() {
  const { createClient } = await import('@lifeline/sdk');
  const client = createClient({ url: `ws://127.0.0.1:${port}` });
  const seen = new Set();
  const sub = client.subscribe(CHANNEL);
  sub.on('publication', (data) => delivered(data, seen));
  await client.connect({ timeoutMs: 120_000 });
  await sub.ready({ timeoutMs: 120_000 });
  return { seen, close: () => client.close() };
}

async function socketioSubscriber() {
  const { io } = await import('socket.io-client');
  const socket = io(`http://127.0.0.1:${port}`, { transports: ['websocket'], forceNew: true, reconnection: false });
  const seen = new Set();
  socket.on('tick', (data) => delivered(data, seen));
  await withDeadline(new Promise((resolve, reject) => (socket.once('connect', resolve), socket.once('connect_error', reject))), 30_000, 'socket.io connect');
  await withDeadline(socket.emitWithAck('join', CHANNEL), 30_000, 'socket.io join');
  return { seen, close: () => socket.disconnect() };
}

const subscribers = [];
const make = peer === 'lifeline' ? lifelineSubscriber : socketioSubscriber;
for (let i = 0; i < count; i += CONNECT_AT_ONCE) {
  const batch = Array.from({ length: Math.min(CONNECT_AT_ONCE, count - i) }, make);
  subscribers.push(...(await Promise.all(batch)));
  if (subscribers.length % 2_000 === 0) console.error(`fan-out: ${peer} ${subscribers.length}/${count} subscribed`);
}

serveParent(
  {
    reset: () => {
      histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
      deliveries = 0;
      duplicates = 0;
      reached = new Map();
      upTo = 0;
      base = -1;
      for (const s of subscribers) s.seen.clear();
    },
    stats: () => ({
      deliveries,
      duplicates,
      p50: histogram.getValueAtPercentile(50),
      p99: histogram.getValueAtPercentile(99),
      max: histogram.maxValue,
      cpu: process.cpuUsage(),
    }),
  },
  async () => {
    await Promise.allSettled(subscribers.map((s) => s.close()));
  },
);

process.send({ type: 'ready' });
