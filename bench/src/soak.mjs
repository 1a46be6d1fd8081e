/**
 * `npm run soak -w @lifeline/bench` (or `node --expose-gc bench/src/soak.mjs`): a bounded soak of
 * the BUILT packages. Clients send a million messages through a fault proxy that cuts every
 * connection on a schedule (thousands of reconnects), while the server pushes to each client. It
 * checks, by id at the handler and by seq at the client, that nothing was lost or duplicated,
 * and reports RSS, heap after GC and event-loop delay. Server, proxy and clients share this one
 * process, so the memory and delay figures cover all three.
 *
 *   --messages N    client → server messages in all (default 1000000)
 *   --reconnects N  client reconnections to cause, counted per client (default 2000)
 *   --pushes N      server → client messages in all (default messages / 10)
 *   --clients N     concurrent clients (default 4)
 *   --window N      outstanding send()s per client (default 1000)
 *   --minutes N     hard deadline: the run fails if it is not done by then (default 15)
 *   --out FILE      JSON result (default docs/reliability/soak.json)
 *
 * Exit 0: all delivered exactly once; 1: something lost, duplicated or failed, or the deadline passed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createClient } from '@lifeline/sdk';
import { createServer } from '@lifeline/server';
import { FaultProxy } from '@lifeline/fault-proxy';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const log = (...a) => console.error(...a);

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '1000000' },
    reconnects: { type: 'string', default: '2000' },
    pushes: { type: 'string' },
    clients: { type: 'string', default: '4' },
    window: { type: 'string', default: '1000' },
    minutes: { type: 'string', default: '15' },
    out: { type: 'string', default: path.join(ROOT, 'docs/reliability/soak.json') },
  },
});

function count(name, value, min) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new TypeError(`--${name} must be an integer ≥ ${min}, got ${value}`);
  return n;
}
const MESSAGES = count('messages', args.messages, 1);
const RECONNECTS = count('reconnects', args.reconnects, 0);
const PUSHES = count('pushes', args.pushes ?? String(Math.floor(MESSAGES / 10)), 0);
const CLIENTS = count('clients', args.clients, 1);
const WINDOW = count('window', args.window, 1);
const MINUTES = Number(args.minutes);
if (!(MINUTES > 0)) throw new TypeError(`--minutes must be above 0, got ${args.minutes}`);
/** One cut drops every client's connection, so it causes CLIENTS reconnections. */
const CUTS = Math.ceil(RECONNECTS / CLIENTS);
const PUSH_WINDOW = 256;

const share = (total, i) => Math.floor(total / CLIENTS) + (i < total % CLIENTS ? 1 : 0);
const gc = () => globalThis.gc?.();
const mb = (bytes) => Math.round((bytes / 2 ** 20) * 10) / 10;
/** monitorEventLoopDelay records the whole interval between its samples; the delay is what exceeds it. */
const DELAY_RESOLUTION_MS = 10;
const lateMs = (ns) => Math.max(0, Math.round((ns / 1e6 - DELAY_RESOLUTION_MS) * 100) / 100);

function memory() {
  gc();
  const m = process.memoryUsage();
  return { rssMB: mb(m.rss), heapUsedMB: mb(m.heapUsed), externalMB: mb(m.external) };
}

/** What each side saw, per client index. */
const clients = Array.from({ length: CLIENTS }, (_, c) => ({
  c,
  target: share(MESSAGES, c),
  pushTarget: share(PUSHES, c),
  client: undefined,
  sent: 0,
  acked: 0,
  wrongResult: 0,
  failed: 0,
  failures: {},
  // Server handler, by message number n (sent in order, so handled in order).
  handledNext: 0,
  handlerCalls: 0,
  handlerDuplicates: 0,
  handlerGaps: 0,
  // Server → client pushes.
  pushSent: 0,
  pushAcked: 0,
  pushFailed: 0,
  pushOutstanding: 0,
  pushNext: 0,
  pushDuplicates: 0,
  pushGaps: 0,
  sessions: 0,
  resumed: 0,
  sessionLost: 0,
  disconnects: 0,
}));

const delay = monitorEventLoopDelay({ resolution: DELAY_RESOLUTION_MS });
const startedAt = new Date();
const t0 = performance.now();
let rssMax = 0;
const samples = { start: undefined, middle: undefined, end: undefined, afterClose: undefined };
let cuts = 0;
let done = false;

const total = MESSAGES + PUSHES;
const progress = () => clients.reduce((a, s) => a + s.acked + s.failed + s.pushAcked + s.pushFailed, 0) / total;
const trafficDone = () => clients.every((s) => s.acked + s.failed === s.target && s.pushAcked + s.pushFailed === s.pushTarget);
let finished;
const finishedP = new Promise((resolve) => (finished = resolve));

/** Heap after GC and RSS at every tenth of the traffic: a leak shows as a rising heap. */
const series = [];
function check() {
  const p = progress();
  if (p * 10 >= series.length + 1 && series.length < 10) series.push({ progress: (series.length + 1) / 10, ...memory() });
  if (samples.middle === undefined && p >= 0.5) samples.middle = series.at(-1) ?? memory();
  // Done when both targets are met and every client came back from the last cut.
  const settled = clients.every((s) => s.disconnects >= cuts && s.client?.state === 'open' && s.resumed + s.sessionLost === s.disconnects);
  if (!done && trafficDone() && cuts >= CUTS && settled) {
    done = true;
    finished(true);
  }
}

const server = createServer({
  port: 0,
  host: '127.0.0.1',
  authenticate: (auth) => (auth !== null && typeof auth === 'object' && typeof auth.c === 'number' ? { c: auth.c } : false),
  handler: (data, ctx) => {
    const s = clients[ctx.session.identity.c];
    s.handlerCalls++;
    if (data.n === s.handledNext) s.handledNext++;
    else if (data.n < s.handledNext) s.handlerDuplicates++;
    else {
      s.handlerGaps += data.n - s.handledNext;
      s.handledNext = data.n + 1;
    }
    return { n: data.n };
  },
});
server.on('error', (e) => log('server error:', e));
server.on('session', (session) => {
  const s = clients[session.identity.c];
  s.sessions++;
  const pump = () => {
    while (s.pushOutstanding < PUSH_WINDOW && s.pushSent < s.pushTarget && session.state !== 'closed') {
      const p = s.pushSent++;
      s.pushOutstanding++;
      session.send({ p }, { timeoutMs: MINUTES * 60_000 }).then(
        () => {
          s.pushOutstanding--;
          s.pushAcked++;
          pump();
          check();
        },
        (error) => {
          s.pushOutstanding--;
          s.pushFailed++;
          log(`push ${p} to client ${s.c} failed: ${error?.code ?? error}`);
          check();
        },
      );
    }
  };
  pump();
});

await server.listen();
const proxy = await FaultProxy.start({ target: { port: server.port } });

function send(s) {
  const n = s.sent++;
  s.client.send({ n, pad: 'soak-payload-0123456789abcdefghijklmnopqrstuvwxyz' }, { timeoutMs: MINUTES * 60_000 }).then(
    (result) => {
      s.acked++;
      if (result?.n !== n) s.wrongResult++;
      if (s.sent < s.target) send(s);
      check();
    },
    (error) => {
      s.failed++;
      const code = error?.code ?? String(error);
      s.failures[code] = (s.failures[code] ?? 0) + 1;
      if (s.sent < s.target) send(s);
      check();
    },
  );
}

for (const s of clients) {
  const client = createClient({
    url: proxy.url(),
    auth: { c: s.c },
    ackTimeoutMs: MINUTES * 60_000,
    // Come back at once after a cut: the soak wants many reconnects, not long backoffs.
    reconnect: { minDelayMs: 5, maxDelayMs: 50, minUptimeMs: 0 },
  });
  client.on('error', (e) => log(`client ${s.c} error:`, e?.message ?? e));
  client.on('resumed', () => s.resumed++);
  client.on('session-lost', () => s.sessionLost++);
  client.on('disconnect', () => s.disconnects++);
  client.on('message', (data) => {
    if (data.p === s.pushNext) s.pushNext++;
    else if (data.p < s.pushNext) s.pushDuplicates++;
    else {
      s.pushGaps += data.p - s.pushNext;
      s.pushNext = data.p + 1;
    }
  });
  s.client = client;
  await client.connect({ timeoutMs: 10_000 });
}

samples.start = memory();
delay.enable();
log(`soak: ${MESSAGES} messages, ${PUSHES} pushes, ${CUTS} cuts × ${CLIENTS} clients, deadline ${MINUTES} min`);

// Cuts follow progress, so the run ends with both targets met whatever the throughput; a cut
// waits until every client is open again, so each one is a real reconnection of every client.
const scheduler = setInterval(() => {
  rssMax = Math.max(rssMax, process.memoryUsage.rss());
  if (done) return;
  const due = trafficDone() ? CUTS : Math.floor(progress() * (CUTS + 1));
  if (cuts < Math.min(due, CUTS) && clients.every((s) => s.client.state === 'open')) {
    proxy.cutAll();
    cuts++;
  }
  check();
}, 5);
const reporter = setInterval(() => {
  const acked = clients.reduce((a, s) => a + s.acked, 0);
  const pushed = clients.reduce((a, s) => a + s.pushAcked, 0);
  log(`  ${Math.round((performance.now() - t0) / 1000)} s: ${acked}/${MESSAGES} acked, ${pushed}/${PUSHES} pushed, ${cuts}/${CUTS} cuts, rss ${mb(process.memoryUsage.rss())} MB`);
}, 10_000);
const deadline = setTimeout(() => finished(false), MINUTES * 60_000);

for (const s of clients) for (let i = 0; i < WINDOW && s.sent < s.target; i++) send(s);
check();
const completed = await finishedP;
const durationMs = performance.now() - t0;
clearInterval(scheduler);
clearInterval(reporter);
clearTimeout(deadline);
delay.disable();
samples.end = memory();

const sum = (key) => clients.reduce((a, s) => a + s[key], 0);
const messages = {
  target: MESSAGES,
  acked: sum('acked'),
  handled: clients.reduce((a, s) => a + s.handledNext, 0),
  handlerCalls: sum('handlerCalls'),
  lost: sum('handlerGaps') + clients.reduce((a, s) => a + (s.target - s.handledNext), 0),
  duplicated: sum('handlerDuplicates'),
  failedSends: sum('failed'),
  failures: Object.assign({}, ...clients.map((s) => s.failures)),
  wrongResults: sum('wrongResult'),
  perSecond: Math.round((sum('acked') / durationMs) * 1000),
};
const pushes = {
  target: PUSHES,
  acked: sum('pushAcked'),
  delivered: clients.reduce((a, s) => a + s.pushNext, 0),
  lost: sum('pushGaps') + clients.reduce((a, s) => a + (s.pushTarget - s.pushNext), 0),
  duplicated: sum('pushDuplicates'),
  failedSends: sum('pushFailed'),
};
const reconnects = {
  target: RECONNECTS,
  cuts,
  disconnects: sum('disconnects'),
  resumed: sum('resumed'),
  sessionLost: sum('sessionLost'),
  sessions: sum('sessions'),
};
// Close everything, bounded; the figures are taken already.
await Promise.race([
  (async () => {
    for (const s of clients) await s.client.close({ timeoutMs: 2_000 }).catch(() => {});
    await server.close({ timeoutMs: 2_000 });
    await proxy.close();
  })(),
  new Promise((resolve) => setTimeout(resolve, 10_000).unref()),
]);
samples.afterClose = memory();

const h = delay;
const result = {
  command: `node --expose-gc bench/src/soak.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  startedAt: startedAt.toISOString(),
  durationS: Math.round(durationMs / 100) / 10,
  completed,
  ok: false,
  machine: { cpu: os.cpus()[0]?.model?.trim() ?? 'unknown', cores: os.cpus().length, node: process.version, loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100) },
  gcExposed: typeof globalThis.gc === 'function',
  messages,
  pushes,
  reconnects,
  memory: { ...samples, rssMaxMB: mb(rssMax), series },
  eventLoopDelayMs: {
    p50: lateMs(h.percentile(50)),
    p90: lateMs(h.percentile(90)),
    p99: lateMs(h.percentile(99)),
    p999: lateMs(h.percentile(99.9)),
    max: lateMs(h.max),
    mean: lateMs(h.mean),
  },
};
result.ok =
  completed &&
  messages.lost === 0 &&
  messages.duplicated === 0 &&
  messages.failedSends === 0 &&
  messages.wrongResults === 0 &&
  messages.handlerCalls === MESSAGES &&
  pushes.lost === 0 &&
  pushes.duplicated === 0 &&
  pushes.failedSends === 0 &&
  reconnects.sessionLost === 0;

await mkdir(path.dirname(args.out), { recursive: true });
await writeFile(args.out, `${JSON.stringify(result, null, 2)}\n`);
const m = result.memory;
console.log(
  [
    `soak ${result.ok ? 'OK' : 'FAILED'}${completed ? '' : ' (deadline passed)'} in ${result.durationS} s`,
    `  messages: ${messages.acked}/${MESSAGES} acked (${messages.perSecond}/s), handler calls ${messages.handlerCalls}, lost ${messages.lost}, duplicated ${messages.duplicated}, failed ${messages.failedSends}`,
    `  pushes:   ${pushes.delivered}/${PUSHES} delivered, lost ${pushes.lost}, duplicated ${pushes.duplicated}, failed ${pushes.failedSends}`,
    `  reconnects: ${cuts} cuts, ${reconnects.disconnects} disconnects, ${reconnects.resumed} resumed, ${reconnects.sessionLost} session-lost`,
    `  RSS MB: start ${m.start.rssMB}, middle ${m.middle?.rssMB ?? '-'}, end ${m.end.rssMB}, max ${m.rssMaxMB}; heap after GC MB: ${m.start.heapUsedMB} / ${m.middle?.heapUsedMB ?? '-'} / ${m.end.heapUsedMB} / after close ${m.afterClose.heapUsedMB}${result.gcExposed ? '' : ' (no --expose-gc: not collected)'}`,
    `  event-loop delay ms: p50 ${result.eventLoopDelayMs.p50}, p99 ${result.eventLoopDelayMs.p99}, p99.9 ${result.eventLoopDelayMs.p999}, max ${result.eventLoopDelayMs.max}`,
    `  written to ${path.relative(process.cwd(), args.out)}`,
  ].join('\n'),
);
process.exit(result.ok ? 0 : 1);
