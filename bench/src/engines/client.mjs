/**
 * One Lifeline client of the engines benchmark, in its own process (several of them load
 * several nodes at once). argv[2]: JSON `{ port }`. Connects, reports `{ type: 'ready' }`, then
 * answers:
 * - `pipelined { n, window }`: `n` sends, `window` outstanding (window = n: all at once);
 *   resolves with the measure plus its start and end as epoch ms (to add up several clients);
 * - `sequential { n, warm }`: `warm` round trips unrecorded, then `n` recorded one at a time;
 *   resolves with the histogram (compressed base64, to merge across clients);
 * - `received`: pushes delivered to this client so far; `cpu`; `close`.
 * The client acknowledges pushes only when something listens for them, hence the listener.
 */
import hdr from 'hdr-histogram-js';
import { serveParent } from '../spawn.mjs';
import { withDeadline } from '../deadline.mjs';
import { newHistogram, pipelined, sequential } from '../measure.mjs';
import { connect } from '../peers/lifeline.mjs';

const { port, phaseMs = 300_000 } = JSON.parse(process.argv[2]);
const epoch = () => performance.timeOrigin + performance.now();

const peer = await connect({ port });
let received = 0;
peer.client.on('message', () => {
  received++;
});

serveParent(
  {
    pipelined: async ({ n, window }) => {
      const start = epoch();
      const r = await pipelined(peer, n, window, phaseMs);
      return { ...r, start, end: epoch() };
    },
    sequential: async ({ n, warm }) => {
      if (warm > 0) await sequential(peer, warm, phaseMs);
      const h = await sequential(peer, n, phaseMs, newHistogram());
      return hdr.encodeIntoCompressedBase64(h);
    },
    received: () => received,
    cpu: () => process.cpuUsage(),
  },
  async () => {
    peer.onError = () => {};
    await withDeadline(Promise.resolve(peer.close()), 4_000, 'client close').catch(() => {});
  },
);

process.send({ type: 'ready' });
