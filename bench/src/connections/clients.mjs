/**
 * The clients of the connections benchmark: `count` connections from this process, opened
 * `atOnce` at a time. argv[2]: JSON `{ peer, port, count, atOnce }`. Reports `{ type: 'ready',
 * connectMs }` once all are open, then answers `open` (how many are open now), `cpu`,
 * `reconnected` (ms from the call until every Lifeline client is open again: the server was
 * restarted; with how many resumed their session and how many lost it), `close`. Bare `ws` clients do not reconnect; Lifeline's use the SDK's defaults
 * (full-jitter backoff), which is what is measured.
 */
import { serveParent } from '../spawn.mjs';
import { profileCommands } from './profile.mjs';
import { withDeadline, until } from '../deadline.mjs';

const { peer, port, count, atOnce } = JSON.parse(process.argv[2]);
const url = `ws://127.0.0.1:${port}`;
let open = 0;
let resumed = 0;
let lost = 0;

async function lifeline() {
  const { createClient } = await import('@lifeline/sdk');
  const client = createClient({ url });
  client.on('state', (state, info) => {
    if (state === 'open') open++;
    else if (info?.from === 'open') open--;
  });
  client.on('resumed', () => resumed++);
  client.on('session-lost', () => lost++);
  await client.connect({ timeoutMs: 60_000 });
  return { close: () => client.close() };
}

async function bare() {
  const { WebSocket } = await import('ws');
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await withDeadline(new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject))), 60_000, 'ws open');
  if (peer === 'ws-greeted') {
    // One message each way, as every Lifeline session has carried (hello, welcome): a socket
    // that has read and written keeps buffers a never-used one has not made yet.
    const answered = new Promise((resolve) => ws.once('message', resolve));
    ws.send('hello');
    await withDeadline(answered, 60_000, 'ws-greeted answer');
  }
  open++;
  ws.on('close', () => open--);
  ws.on('error', () => {});
  return { close: () => ws.terminate() };
}

const make = peer.startsWith('lifeline') ? lifeline : bare;
const clients = [];
const t0 = performance.now();
for (let i = 0; i < count; i += atOnce) {
  clients.push(...(await Promise.all(Array.from({ length: Math.min(atOnce, count - i) }, make))));
}
const connectMs = performance.now() - t0;

serveParent(
  {
    open: () => open,
    cpu: () => process.cpuUsage(),
    ...profileCommands,
    /** Waits (bounded) until every client has gone down and come back; resolves the ms it took. */
    reconnected: async ({ deadlineMs }) => {
      const t = performance.now();
      await until(() => open < count, deadlineMs, 'clients see the server gone', 2);
      await until(() => open === count, deadlineMs, 'every client open again', 5);
      return { ms: performance.now() - t, resumed, lost };
    },
  },
  async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
  },
);
process.send({ type: 'ready', connectMs });
