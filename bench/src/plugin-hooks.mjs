/**
 * `node bench/src/plugin-hooks.mjs` (after a build): the metrics plugin's own work per message,
 * in-process and without I/O — the hooks a client calls for one acked send (onSend, onTransmit,
 * onAck) and a server for one delivered message (onReceive, onDeliver). What the session spends
 * around the hooks (events, clock reads) is in `npm run bench:metrics`, end to end.
 */
import { metrics } from '@lifeline/metrics';

const N = 2_000_000;
const WARMUP = 200_000;

function clientHooks(m, n) {
  const ctx = { side: 'client', sessionId: 'client-session' };
  let t = performance.now();
  for (let i = 0; i < n; i++) {
    m.onSend({ id: 'm', bytes: 100, at: t }, ctx);
    m.onTransmit({ id: 'm', seq: i + 1, queuedAt: t, at: t + 0.003, retransmit: false }, ctx);
    m.onAck({ id: 'm', seq: i + 1, queuedAt: t, sentAt: t + 0.003, at: t + 0.05 + (i % 100) * 0.001 }, ctx);
    t += 0.001;
  }
}

function serverHooks(m, n) {
  const ctx = { side: 'server', sessionId: 'server-session' };
  const wall = Date.now();
  for (let i = 0; i < n; i++) {
    const sentAt = wall - 1 - (i % 50) * 0.01;
    m.onReceive({ id: 'm', seq: i + 1, sentAt, wallAt: wall, at: 5.5, duplicate: false }, ctx);
    m.onDeliver({ id: 'm', seq: i + 1, sentAt, wallAt: wall, at: 5.5 }, ctx);
  }
}

function nsPerMessage(run, options) {
  const m = metrics(options);
  run(m, WARMUP);
  const t0 = performance.now();
  run(m, N);
  return ((performance.now() - t0) * 1e6) / N;
}

const rows = [
  ['client: onSend + onTransmit + onAck', nsPerMessage(clientHooks)],
  ['server: onReceive + onDeliver (side and session)', nsPerMessage(serverHooks)],
  ['server, maxSessions 0 (totals only)', nsPerMessage(serverHooks, { maxSessions: 0 })],
];
console.log(`metrics hooks, ${N.toLocaleString('en-US')} messages each, node ${process.version}`);
for (const [what, ns] of rows) console.log(`  ${what}: ${ns.toFixed(0)} ns/msg`);
