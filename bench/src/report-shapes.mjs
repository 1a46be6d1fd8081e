/**
 * The load-shape figures (issue 14, shapes.mjs): medians over runs, ratios to raw ws of the same
 * run, and their two markdown tables.
 */
import { REFERENCE } from './peers/index.mjs';

const SHAPE_FIELDS = [
  'windowed.perSecond',
  'burst.perSecond',
  'burstOverWindowed',
  'burstAgain.perSecond',
  'burstAgainOverWindowed',
  'windowed.cpuUsPerMsg',
  'burst.cpuUsPerMsg',
  'windowed.serverCpuUsPerMsg',
  'burst.serverCpuUsPerMsg',
  'latency.p50',
  'latency.p99',
  'latency.p999',
  'afterGc.p50',
  'afterGc.p99',
];

const at = (object, path) => path.split('.').reduce((o, k) => o?.[k], object);

/** `median` is passed in (report.mjs owns it) to keep one definition. */
function summarizeShape(list, refList, median, { na, skipped }) {
  if (na) return { na };
  if (skipped) return { skipped };
  const good = (r) => r.result && !r.result.error && !r.result.na;
  const ok = list.filter(good);
  const refByRun = new Map(refList.filter(good).map((r) => [r.run, r.result]));
  const paired = ok.filter((r) => refByRun.has(r.run));
  return {
    runs: ok.length,
    errors: list.filter((r) => r.result?.error).map((r) => `run ${r.run}: ${r.result.error}`),
    median: ok.length ? Object.fromEntries(SHAPE_FIELDS.map((f) => [f, median(ok.map((r) => at(r.result, f)))])) : undefined,
    ratio: Object.fromEntries(SHAPE_FIELDS.map((f) => [f, median(paired.map((r) => at(r.result, f) / at(refByRun.get(r.run), f)))])),
  };
}

/** `{ remote, local }` for one peer; `na` names why the one-process shape does not apply. */
export function aggregateShapes(tasks, refTasks, median, localNa) {
  return {
    remote: summarizeShape(tasks.shapesRemote ?? [], refTasks?.shapesRemote ?? [], median, { skipped: tasks.skipped }),
    local: summarizeShape(tasks.shapesLocal ?? [], refTasks?.shapesLocal ?? [], median, { na: localNa, skipped: tasks.skipped }),
  };
}

// ---------- markdown ----------

const int = (x) => (x === undefined ? '–' : Math.round(x).toLocaleString('en-US'));
const dec = (x, d = 1) => (x === undefined ? '–' : x.toFixed(d));
const times = (x) => (x === undefined ? '' : ` (${x.toFixed(2)}×)`);

/** A cell: the median and, for every peer but the reference, its ratio to raw ws. */
function cell(shape, field, format, isRef) {
  if (shape.na) return 'n/a';
  if (shape.skipped) return 'skipped';
  if (!shape.median) return shape.errors?.length ? 'failed' : '–';
  const value = shape.median[field];
  if (value === undefined) return '–';
  return `${format(value)}${isRef ? '' : times(shape.ratio[field])}`;
}

export function shapesMarkdown(doc) {
  const { peers, config } = doc;
  const local = int(config.burstLocal);
  const remote = int(config.burstRemote);
  const window = int(config.window);
  const out = [
    `Median of ${config.runs} run${config.runs === 1 ? '' : 's'}${config.quick ? ' (**--quick** smoke run: small counts, not for publication)' : ''}; ` +
      `in brackets the peer's figure ÷ raw ws echo's in the same run (median over runs). ` +
      `*1 process*: the peer's server runs in the client's process; *2 processes*: in a process of its own (Mosquitto for MQTT). ` +
      `*Outstanding*: the first ${window} sends in one loop, then one more per ack; *at once*: every send in one loop, timed until the last ack. ` +
      `Each task warms up first (${window} outstanding, then ${window} at once); windowed and at-once phases alternate order by run. ` +
      `*Again*: in two processes the burst is fired a second time right after the first: the first is the process's first burst of ${remote}, which finds a heap sized for the warm-up.`,
    '',
    `| peer | 1 process, ${local} at once (msg/s) | 1 process, ${window} outstanding | 2 processes, ${window} outstanding (${remote} msgs) | 2 processes, ${remote} at once | at once ÷ outstanding, 2 processes | 2 processes, ${remote} at once again | again ÷ outstanding |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const p of peers) {
    const { local: l, remote: r } = p.shapes;
    const ref = p.key === REFERENCE;
    out.push(
      `| ${p.label} | ${cell(l, 'burst.perSecond', int, ref)} | ${cell(l, 'windowed.perSecond', int, ref)} | ${cell(r, 'windowed.perSecond', int, ref)} | ${cell(r, 'burst.perSecond', int, ref)} | ${cell(r, 'burstOverWindowed', (x) => x.toFixed(2), true)} | ${cell(r, 'burstAgain.perSecond', int, ref)} | ${cell(r, 'burstAgainOverWindowed', (x) => x.toFixed(2), true)} |`,
    );
  }
  out.push(
    '',
    `Sequential ack latency (${int(config.latencyMessages)} round trips, one at a time, after ${int(config.latencySettle)} more since the last forced GC) in each layout, and CPU per acked message: ` +
      `*server CPU* is the server process's \`process.cpuUsage()\` (Mosquitto's /proc CPU time for MQTT) over the phase ÷ messages; ` +
      `*1 process CPU* is the one process's CPU, client and server together, over the ${local} at once.`,
    '',
    `| peer | p50, 1 process (µs) | p99, 1 process | p50, 2 processes | p99, 2 processes | server CPU, ${window} outstanding (µs/msg) | server CPU, ${remote} at once | client CPU, ${remote} at once | 1 process CPU, ${local} at once |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const p of peers) {
    const { local: l, remote: r } = p.shapes;
    const ref = p.key === REFERENCE;
    out.push(
      `| ${p.label} | ${cell(l, 'latency.p50', int, ref)} | ${cell(l, 'latency.p99', int, ref)} | ${cell(r, 'latency.p50', int, ref)} | ${cell(r, 'latency.p99', int, ref)} | ` +
        `${cell(r, 'windowed.serverCpuUsPerMsg', dec, ref)} | ${cell(r, 'burst.serverCpuUsPerMsg', dec, ref)} | ${cell(r, 'burst.cpuUsPerMsg', dec, ref)} | ${cell(l, 'burst.cpuUsPerMsg', dec, ref)} |`,
    );
  }
  out.push(
    '',
    `The same sequential latency read right after a forced full GC (the first ${int(config.latencyMessages)} round trips after it, as this bench read it before issue 14's stop 26): ` +
      'the GC collects the hidden classes of objects none of which is alive between phases, V8 deoptimizes the code built on them, and these trips run while it compiles that code again. ' +
      '*Perf*: the two-process task of the first table.',
    '',
    '| peer | p50, 1 process (µs) | p99, 1 process | p50, 2 processes | p99, 2 processes | p50, perf | p99, perf |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const p of peers) {
    const { local: l, remote: r } = p.shapes;
    const ref = p.key === REFERENCE;
    const perf = p.perf?.median?.afterGc;
    const perfCell = (f, rf) => (perf?.[f] === undefined ? '–' : `${int(perf[f])}${ref || p.perf.ratio[rf] === undefined ? '' : times(p.perf.ratio[rf])}`);
    out.push(
      `| ${p.label} | ${cell(l, 'afterGc.p50', int, ref)} | ${cell(l, 'afterGc.p99', int, ref)} | ${cell(r, 'afterGc.p50', int, ref)} | ${cell(r, 'afterGc.p99', int, ref)} | ${perfCell('p50', 'p50AfterGc')} | ${perfCell('p99', 'p99AfterGc')} |`,
    );
  }
  const notes = [];
  for (const p of peers) {
    const { local: l, remote: r } = p.shapes;
    if (l.na) notes.push(`- **${p.label}**: 1 process n/a, ${l.na}.`);
    const errs = [...(r.errors ?? []), ...(l.errors ?? [])];
    if (errs.length) notes.push(`- **${p.label}** failures: ${errs.slice(0, 4).join('; ')}${errs.length > 4 ? `; … (${errs.length} in all)` : ''}.`);
  }
  if (notes.length) out.push('', ...notes);
  return out.join('\n');
}
