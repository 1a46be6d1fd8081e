/**
 * From per-run task results to figures: medians over runs, ratios to raw ws (per run, then the
 * median), the JSON document, and the markdown tables.
 */
import { REFERENCE, runsTask } from './peers/index.mjs';
import { aggregateShapes } from './report-shapes.mjs';

export function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

const pick = (runs, path) => runs.map((r) => path.split('.').reduce((o, k) => o?.[k], r));

/** Median of each figure over the successful runs of one task. */
function medianPerf(runs) {
  if (runs.length === 0) return undefined;
  const curve = runs[0].latency.curve.map(([p], i) => [p, median(runs.map((r) => r.latency.curve[i][1]))]);
  return {
    throughput: median(pick(runs, 'throughput')),
    cpuUsPerMsg: median(pick(runs, 'cpuUsPerMsg')),
    serverCpuUsPerMsg: median(pick(runs, 'serverCpuUsPerMsg')),
    peakRssMB: median(pick(runs, 'peakRssMB')),
    latency: {
      p50: median(pick(runs, 'latency.p50')),
      p90: median(pick(runs, 'latency.p90')),
      p99: median(pick(runs, 'latency.p99')),
      p999: median(pick(runs, 'latency.p999')),
      max: median(pick(runs, 'latency.max')),
      mean: median(pick(runs, 'latency.mean')),
      curve,
    },
    afterGc: {
      p50: median(pick(runs, 'afterGc.p50')),
      p99: median(pick(runs, 'afterGc.p99')),
    },
  };
}

function medianOf(runs, keys) {
  if (runs.length === 0) return undefined;
  return Object.fromEntries(keys.map((k) => [k, median(pick(runs, k))]));
}

/**
 * `raw`: { [peerKey]: { perf: [{ run, result }], memory: { [n]: [...] }, replay: [...] } }, where
 * a result is the task's figures or `{ error }` or `{ na }`. Returns the peers' figures.
 */
export function aggregate(peers, raw, config) {
  const ref = raw[REFERENCE]?.perf ?? [];
  const refByRun = new Map(ref.filter((r) => !r.result.error).map((r) => [r.run, r.result]));
  return peers.map((spec) => {
    const tasks = raw[spec.key] ?? {};
    const ok = (list = []) => list.filter((r) => r.result && !r.result.error && !r.result.na);
    const errors = (list = []) => list.filter((r) => r.result?.error).map((r) => `run ${r.run}: ${r.result.error}`);

    const perfRuns = ok(tasks.perf);
    const perRunRatio = (get) =>
      median(
        perfRuns
          .filter((r) => refByRun.has(r.run))
          .map((r) => {
            const a = get(r.result);
            const b = get(refByRun.get(r.run));
            return a / b;
          }),
      );
    const perf = {
      runs: perfRuns.length,
      errors: errors(tasks.perf),
      skipped: tasks.skipped,
      median: medianPerf(perfRuns.map((r) => r.result)),
      ratio: {
        throughput: perRunRatio((x) => x.throughput),
        cpuUsPerMsg: perRunRatio((x) => x.cpuUsPerMsg),
        serverCpuUsPerMsg: perRunRatio((x) => x.serverCpuUsPerMsg),
        p50: perRunRatio((x) => x.latency.p50),
        p99: perRunRatio((x) => x.latency.p99),
        p999: perRunRatio((x) => x.latency.p999),
        p50AfterGc: perRunRatio((x) => x.afterGc?.p50),
        p99AfterGc: perRunRatio((x) => x.afterGc?.p99),
        peakRssMB: perRunRatio((x) => x.peakRssMB),
      },
    };

    const memory = {};
    for (const n of config.inFlight) {
      const list = tasks.memory?.[n];
      const na = notApplicable(spec, 'memory', n);
      memory[n] = na
        ? { na }
        : tasks.skipped
          ? { skipped: tasks.skipped }
          : { runs: ok(list).length, errors: errors(list), median: medianOf(ok(list).map((r) => r.result), ['heapBytesPerMsg', 'externalBytesPerMsg']) };
    }

    const replayNa = notApplicable(spec, 'replay');
    const replay = replayNa
      ? { na: replayNa }
      : tasks.skipped
        ? { skipped: tasks.skipped }
        : {
            runs: ok(tasks.replay).length,
            errors: errors(tasks.replay),
            median: medianOf(ok(tasks.replay).map((r) => r.result), ['freshMs', 'replayMs', 'cutToDoneMs']),
          };
    if (replay.median) replay.median.replayOverFresh = median(ok(tasks.replay).map((r) => r.result.replayMs / r.result.freshMs));

    const shapes = aggregateShapes(tasks, raw[REFERENCE], median, notApplicable(spec, 'shapes-local'));
    const pairedRuns = ok(tasks.paired).map((r) => r.result);
    const paired = {
      runs: pairedRuns.length,
      errors: errors(tasks.paired),
      median: medianOf(pairedRuns, ['p50', 'p99', 'refP50', 'refP99', 'p50Ratio', 'p99Ratio']),
      /** Every round's p50 ratio of every run, to show the spread. */
      roundRatios: pairedRuns.flatMap((r) => r.p50Ratios),
    };
    return { key: spec.key, label: spec.label, note: spec.note, options: spec.options, tasks: spec.tasks, perf, shapes, paired, memory, replay };
  });
}

/** The reason a figure is not meaningful for a peer, or `undefined`. */
export function notApplicable(spec, task, n) {
  if (task === 'memory') {
    if (spec.memory !== true) return spec.memory;
    if (spec.maxInFlight !== undefined && n > spec.maxInFlight) return `at most ${spec.maxInFlight.toLocaleString('en-US')} in flight (16-bit packet ids)`;
  }
  if (task === 'replay' && spec.replay !== true) return spec.replay;
  if (task === 'shapes-local' && typeof spec.local === 'string') return spec.local;
  return undefined;
}

// ---------- markdown ----------

const int = (x) => (x === undefined ? '–' : Math.round(x).toLocaleString('en-US'));
const dec = (x, d = 1) => (x === undefined ? '–' : x.toFixed(d));
const ratio = (x) => (x === undefined ? '–' : `${x.toFixed(2)}×`);

function status(task, format) {
  if (task.na) return 'n/a';
  if (task.skipped) return 'skipped';
  if (!task.median && task.errors?.length) return 'failed';
  if (!task.median) return '–';
  return format(task.median);
}

export function markdown(doc) {
  const { peers, config } = doc;
  const out = [];
  out.push(
    `Median of ${config.runs} run${config.runs === 1 ? '' : 's'}${config.quick ? ' (**--quick** smoke run: small counts, not for publication)' : ''}. ` +
      `× ws: the peer's figure divided by raw ws echo's in the same run (median over runs). ` +
      `Throughput: ${int(config.messages)} messages, ${int(config.window)} outstanding. ` +
      `Latency: ${int(config.latencyMessages)} sequential round trips, after ${int(config.latencySettle)} more since the last forced GC (the first ${int(config.latencyMessages)} after it are in the load-shape section). Payload ${config.payloadBytes} B of JSON. ` +
      'Server CPU: the server process (Mosquitto for MQTT) over the throughput phase ÷ messages.',
    '',
    '| peer | throughput (msg/s) | × ws | p50 (µs) | p99 (µs) | p99.9 (µs) | p99 × ws | client CPU (µs/msg) | CPU × ws | server CPU (µs/msg) | server CPU × ws | client peak RSS (MB) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const p of peers.filter((q) => runsTask(q, 'perf'))) {
    const m = p.perf.median;
    const r = p.perf.ratio;
    if (!m) {
      const what = p.perf.skipped ? 'skipped' : p.perf.errors.length ? 'failed' : 'not run';
      out.push(`| ${p.label} | ${what} | | | | | | | | | | |`);
      continue;
    }
    out.push(
      `| ${p.label} | ${int(m.throughput)} | ${ratio(r.throughput)} | ${int(m.latency.p50)} | ${int(m.latency.p99)} | ${int(m.latency.p999)} | ${ratio(r.p99)} | ${dec(m.cpuUsPerMsg)} | ${ratio(r.cpuUsPerMsg)} | ${dec(m.serverCpuUsPerMsg)} | ${ratio(r.serverCpuUsPerMsg)} | ${dec(m.peakRssMB)} |`,
    );
  }
  const paired = peers.filter((q) => q.key !== REFERENCE && (q.paired.runs || q.paired.errors.length));
  if (paired.length) {
    out.push(
      '',
      `Sequential latency paired with raw ws (task \`paired\`): the peer and raw ws connected from one client process to servers of their own, ` +
        `${config.pairedRounds} rounds alternating which goes first, each a settled reading of ${int(config.latencyMessages)} round trips of each; ` +
        'the ratio is taken per round, then the median over rounds and over runs. A slow spell of the machine falls on both sides of a round alike.',
      '',
      '| peer | p50 (µs) | raw ws p50 | p50 × ws | p99 (µs) | raw ws p99 | p99 × ws | p50 × ws, every round |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    );
    for (const p of paired) {
      const m = p.paired.median;
      if (!m) {
        out.push(`| ${p.label} | failed | | | | | | |`);
        continue;
      }
      const spread = p.paired.roundRatios.map((x) => x.toFixed(2)).join(', ');
      out.push(`| ${p.label} | ${int(m.p50)} | ${int(m.refP50)} | ${ratio(m.p50Ratio)} | ${int(m.p99)} | ${int(m.refP99)} | ${ratio(m.p99Ratio)} | ${spread} |`);
    }
  }
  const cost = pluginCost(doc);
  if (cost !== undefined) {
    out.push(
      '',
      `Metrics plugin cost in this run: ${(cost * 100).toFixed(1)}% of Lifeline's throughput (median over runs of Lifeline + metrics ÷ Lifeline in the same run). ` +
        'For a tighter figure, `npm run bench:metrics` runs longer paired rounds in alternating order.',
    );
  }
  out.push('');
  const ns = config.inFlight;
  out.push(
    `Memory: client heap growth per unacknowledged message while the server holds every answer (after forced GC). ` +
      `Replay: ${int(config.replayMessages)} messages unacknowledged when the link is cut (through @lifeline/fault-proxy); ` +
      `time from the reconnection to all acknowledged, against sending ${int(config.replayMessages)} fresh on a live link.`,
    '',
    `| peer | ${ns.map((n) => `heap B / in-flight msg @ ${int(n)}`).join(' | ')} | replay ${int(config.replayMessages)} after reconnect (ms) | fresh ${int(config.replayMessages)} (ms) | replay ÷ fresh |`,
    `| --- | ${ns.map(() => '---:').join(' | ')} | ---: | ---: | ---: |`,
  );
  for (const p of peers.filter((q) => runsTask(q, 'memory') || runsTask(q, 'replay'))) {
    const mem = ns.map((n) => status(p.memory[n], (m) => int(m.heapBytesPerMsg)));
    const rp = p.replay;
    out.push(
      `| ${p.label} | ${mem.join(' | ')} | ${status(rp, (m) => int(m.replayMs))} | ${status(rp, (m) => int(m.freshMs))} | ${status(rp, (m) => ratio(m.replayOverFresh))} |`,
    );
  }
  out.push('', 'Notes:', '');
  for (const p of peers) {
    const notes = [p.note];
    if (p.perf.skipped) notes.push(`skipped: ${p.perf.skipped}`);
    for (const [n, m] of Object.entries(p.memory)) if (m.na && m.na !== p.memory[ns[0]]?.na) notes.push(`memory @ ${int(Number(n))}: n/a, ${m.na}`);
    if (p.memory[ns[0]]?.na) notes.push(`memory: n/a, ${p.memory[ns[0]].na}`);
    if (p.replay.na) notes.push(`replay: n/a, ${p.replay.na}`);
    const errs = [...p.perf.errors, ...(p.paired?.errors ?? []), ...Object.values(p.memory).flatMap((m) => m.errors ?? []), ...(p.replay.errors ?? [])];
    if (errs.length) notes.push(`failures: ${errs.slice(0, 4).join('; ')}${errs.length > 4 ? `; … (${errs.length} in all)` : ''}`);
    out.push(`- **${p.label}**: ${notes.join('; ')}.`);
  }
  return out.join('\n');
}

/**
 * The throughput a plugin costs, from paired on ÷ off throughput ratios: 1 − their median, or
 * undefined without any. The median of per-pair ratios, not a ratio of medians, so that a slow
 * patch of the machine, which hits both halves of a pair alike, cancels out.
 */
export function throughputCost(ratios) {
  const m = median(ratios);
  return m === undefined ? undefined : 1 - m;
}

/** The metrics plugin's cost in this run: lifeline-metrics ÷ lifeline paired by run. */
function pluginCost(doc) {
  const byRun = (key) => new Map((doc.raw?.[key]?.perf ?? []).filter((r) => r.result?.throughput).map((r) => [r.run, r.result.throughput]));
  const off = byRun('lifeline');
  const on = byRun('lifeline-metrics');
  return throughputCost([...on].filter(([run]) => off.has(run)).map(([run, t]) => t / off.get(run)));
}

export function machineMarkdown(doc) {
  const m = doc.machine;
  const pkgs = Object.entries(m.packages)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return [
    `- CPU: ${m.cpu}, ${m.cores} cores; memory ${m.memoryGB} GB; ${m.os}`,
    `- Node ${m.node}; Mosquitto ${m.mosquitto}`,
    `- Packages: ${pkgs}`,
    `- Load average at start: ${m.loadAverage.join(', ')}`,
    `- Generated ${doc.generatedAt} by \`${doc.command}\` in ${Math.round(doc.durationMs / 1000)} s`,
  ].join('\n');
}
