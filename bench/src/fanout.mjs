/**
 * `npm run fanout -w @lifeline/bench`: one publication fanned out to 1,000 and 10,000 subscribers
 * on one server (issue 11), Lifeline `server.publish` (stored, acknowledged by each subscriber,
 * recoverable) against Socket.IO 4 `io.to(room).emit` (neither), in the same run. Load shapes:
 * every publication at once (`burst`) and at most `window` publications not yet at every
 * subscriber (`windowed`); subscribers in one client process and in two. Reports deliveries/s,
 * publish→deliver p50/p99, server and client CPU per delivery, server memory per subscriber.
 * Each shape runs `--repeat` times (3) on the same processes and reports the run with the median
 * deliveries/s, with every run's figure beside it: one row lasts a second or two, and on a shared
 * machine a slow spell of that length moved single figures by half.
 * Options: --sizes 1000,10000 --peers lifeline,socketio --procs 1,2 --deliveries 200000 --repeat 3 --out FILE.
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { startChild } from './spawn.mjs';
import { withDeadline } from './deadline.mjs';
import { machineInfo } from './machine.mjs';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const log = (...a) => console.error(...a);
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const list = (name, fallback) => arg(name, fallback).split(',');
const sizes = list('sizes', '1000,10000').map(Number);
const peers = list('peers', 'lifeline,socketio');
const procsList = list('procs', '1,2').map(Number);
const targetDeliveries = Number(arg('deliveries', '200000'));
const repeat = Math.max(1, Number(arg('repeat', '3')));
const out = arg('out', undefined);

const cpuUs = (a, b) => b.user - a.user + (b.system - a.system);

async function shape(server, clients, { name, publications, window, subscribers }) {
  await Promise.all(clients.map((c) => c.request('reset')));
  const upTo = clients.map(() => 0);
  let finish;
  const finished = new Promise((resolve) => (finish = resolve));
  const listeners = clients.map((c, k) => {
    const on = (m) => {
      if (m.type !== 'done') return;
      upTo[k] = Math.max(upTo[k], m.upTo);
      const all = Math.min(...upTo);
      server.child.send({ id: -1, cmd: 'release', upTo: all });
      if (all >= publications) finish();
    };
    c.child.on('message', on);
    return () => c.child.off('message', on);
  });
  const serverCpu0 = await server.request('cpu');
  const clientCpu0 = await Promise.all(clients.map((c) => c.request('stats')));
  const t0 = performance.now();
  await server.request('publish', { count: publications, window }, 120_000);
  await withDeadline(finished, 120_000, `${name}: every publication at every subscriber`);
  const seconds = (performance.now() - t0) / 1000;
  const serverCpu1 = await server.request('cpu');
  const stats = await Promise.all(clients.map((c) => c.request('stats')));
  for (const off of listeners) off();
  const deliveries = stats.reduce((s, x) => s + x.deliveries, 0);
  const clientCpu = stats.reduce((s, x, k) => s + cpuUs(clientCpu0[k].cpu, x.cpu), 0);
  return {
    shape: name,
    publications,
    window,
    deliveries,
    expected: publications * subscribers,
    duplicates: stats.reduce((s, x) => s + x.duplicates, 0),
    deliveriesPerSecond: deliveries / seconds,
    p50Us: Math.max(...stats.map((x) => x.p50)),
    p99Us: Math.max(...stats.map((x) => x.p99)),
    serverCpuUsPerDelivery: cpuUs(serverCpu0, serverCpu1) / deliveries,
    clientCpuUsPerDelivery: clientCpu / deliveries,
  };
}

async function measure(peer, subscribers, procs) {
  const server = await startChild(here('./fanout/server.mjs'), [JSON.stringify({ peer })], { execArgv: ['--expose-gc'] });
  const clients = [];
  try {
    const before = await server.request('mem');
    const per = Math.ceil(subscribers / procs);
    for (let k = 0; k < procs; k++) {
      const count = Math.min(per, subscribers - k * per);
      clients.push(await startChild(here('./fanout/clients.mjs'), [JSON.stringify({ peer, port: server.ready.port, count })], { readyMs: 900_000, execArgv: ['--max-old-space-size=8192'] }));
    }
    const after = await server.request('mem');
    const publications = Math.max(2, Math.round(targetDeliveries / subscribers));
    const window = Math.max(1, Math.round(publications / 10));
    const rows = [];
    for (const s of [
      { name: 'burst', publications, window: publications },
      { name: 'windowed', publications, window },
    ]) {
      const runs = [];
      for (let k = 0; k < repeat; k++) runs.push(await shape(server, clients, { ...s, subscribers }));
      const sorted = [...runs].sort((a, b) => a.deliveriesPerSecond - b.deliveriesPerSecond);
      rows.push({ ...sorted[(sorted.length - 1) >> 1], runs: runs.map((r) => r.deliveriesPerSecond) });
    }
    return {
      peer,
      subscribers,
      procs,
      heapPerSubscriber: (after.heap - before.heap) / subscribers,
      rssPerSubscriber: (after.rss - before.rss) / subscribers,
      rows,
    };
  } finally {
    await Promise.allSettled(clients.map((c) => c.close(20_000)));
    await server.close(10_000);
  }
}

const fmt = (n, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const results = [];
log(`fan-out bench: ${JSON.stringify(machineInfo())}`);
for (const subscribers of sizes) {
  for (const procs of procsList) {
    for (const peer of peers) {
      try {
        const r = await measure(peer, subscribers, procs);
        results.push(r);
        for (const row of r.rows) {
          log(
            `${peer} ${subscribers} subs ${procs} proc ${row.shape}: ${fmt(row.deliveriesPerSecond)} deliveries/s, p50 ${fmt(row.p50Us / 1000, 1)} ms, p99 ${fmt(row.p99Us / 1000, 1)} ms, ` +
              `(runs ${row.runs.map((x) => fmt(x)).join(' / ')}), server ${fmt(row.serverCpuUsPerDelivery, 2)} µs CPU/delivery, clients ${fmt(row.clientCpuUsPerDelivery, 2)} µs, ${row.deliveries}/${row.expected} delivered, ${row.duplicates} dup; ` +
              `server heap ${fmt(r.heapPerSubscriber)} B, RSS ${fmt(r.rssPerSubscriber)} B per subscriber`,
          );
        }
      } catch (error) {
        log(`${peer} ${subscribers} subs ${procs} proc FAILED: ${error.message}`);
        results.push({ peer, subscribers, procs, error: error.message });
      }
    }
  }
}

const lines = ['| subscribers | client procs | shape | peer | deliveries/s (median) | ratio to Socket.IO | every run | p50 ms | p99 ms | server µs CPU/delivery | client µs CPU/delivery | server heap B/subscriber | server RSS B/subscriber |', '|---|---|---|---|---|---|---|---|---|---|---|---|---|'];
for (const r of results.filter((x) => !x.error)) {
  for (const row of r.rows) {
    const ref = results.find((x) => x.peer === 'socketio' && x.subscribers === r.subscribers && x.procs === r.procs && !x.error)?.rows.find((y) => y.shape === row.shape);
    const ratio = ref ? `${(row.deliveriesPerSecond / ref.deliveriesPerSecond).toFixed(2)}×` : '–';
    lines.push(`| ${fmt(r.subscribers)} | ${r.procs} | ${row.shape} | ${r.peer} | ${fmt(row.deliveriesPerSecond)} | ${ratio} | ${row.runs.map((x) => fmt(x)).join(' / ')} | ${fmt(row.p50Us / 1000, 1)} | ${fmt(row.p99Us / 1000, 1)} | ${fmt(row.serverCpuUsPerDelivery, 2)} | ${fmt(row.clientCpuUsPerDelivery, 2)} | ${fmt(r.heapPerSubscriber)} | ${fmt(r.rssPerSubscriber)} |`);
  }
}
for (const r of results.filter((x) => x.error)) lines.push(`| ${fmt(r.subscribers)} | ${r.procs} | – | ${r.peer} | FAILED: ${r.error} | | | | | | | | |`);
console.log(lines.join('\n'));
if (out) await writeFile(out, JSON.stringify({ machine: machineInfo(), results }, null, 2));
process.exit(0);
