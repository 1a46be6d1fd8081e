/**
 * `npm run bench`: every peer, every figure, in one run on loopback. Each task runs in its own
 * client process (client-child.mjs) talking to a server in another (server-child.mjs), under a
 * hard deadline; a task that misses it, or fails, is reported as failed and the run goes on.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { PEERS, REFERENCE, runsTask } from './peers/index.mjs';
import { parseCli, USAGE } from './config.mjs';
import { runTask } from './task.mjs';
import { runMain } from './main.mjs';
import { machineInfo } from './machine.mjs';
import { ensureBroker } from './broker.mjs';
import { aggregate, machineMarkdown, markdown, notApplicable } from './report.mjs';
import { shapesMarkdown } from './report-shapes.mjs';
import { latencySvg, throughputSvg } from './svg.mjs';
import { shapesSvg } from './svg-shapes.mjs';
import { PAYLOAD_BYTES } from './payload.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const log = (...a) => console.error(...a);

async function lifelineAvailable() {
  for (const name of ['@lifeline/sdk', '@lifeline/server', '@lifeline/metrics', '@lifeline/fault-proxy']) {
    try {
      await import(name);
    } catch (error) {
      return `${name} could not be loaded (${error?.code ?? error?.message}); build the workspace first`;
    }
  }
  return undefined;
}

const afterGc = (result) => (result.afterGc ? ` (right after a GC ${result.afterGc.p50} / ${result.afterGc.p99} µs)` : '');

function describe(result) {
  if (result.error) return `FAILED: ${result.error}`;
  const us = (x) => (x === undefined ? '–' : x.toFixed(1));
  if (result.throughput) {
    return `${Math.round(result.throughput).toLocaleString('en-US')} msg/s, p50 ${result.latency.p50} µs, p99 ${result.latency.p99} µs${afterGc(result)}, ${us(result.cpuUsPerMsg)} µs client CPU/msg, ${us(result.serverCpuUsPerMsg)} µs server CPU/msg`;
  }
  if (result.burst) {
    const shape = (s) => `${Math.round(s.perSecond).toLocaleString('en-US')} msg/s${s.serverCpuUsPerMsg === undefined ? '' : ` (server ${us(s.serverCpuUsPerMsg)} µs/msg)`}`;
    return `${result.windowed.n.toLocaleString('en-US')} windowed ${shape(result.windowed)}, all at once ${shape(result.burst)}${result.burstAgain ? `, again ${shape(result.burstAgain)}` : ''}; sequential p50 ${result.latency.p50} µs, p99 ${result.latency.p99} µs${afterGc(result)}`;
  }
  if (result.p50Ratio !== undefined) {
    return `paired with raw ws: p50 ${result.p50} µs against ${result.refP50} (${result.p50Ratio.toFixed(2)}×), p99 ${result.p99} against ${result.refP99} (${result.p99Ratio.toFixed(2)}×); rounds ${result.p50Ratios.map((x) => x.toFixed(2)).join(', ')}`;
  }
  if (result.heapBytesPerMsg !== undefined) return `${Math.round(result.heapBytesPerMsg)} B/msg in flight`;
  if (result.replayMs !== undefined) return `replay ${Math.round(result.replayMs)} ms, fresh ${Math.round(result.freshMs)} ms`;
  return JSON.stringify(result);
}

function replaceSection(text, name, body) {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < i) return text;
  return `${text.slice(0, i + start.length)}\n${body}\n${text.slice(j)}`;
}

async function main() {
  const cli = parseCli(process.argv.slice(2));
  if (cli.help) {
    console.log(USAGE);
    return 0;
  }
  const { config } = cli;
  const started = performance.now();
  const outDir = cli.out ? path.resolve(process.env.INIT_CWD ?? process.cwd(), cli.out) : path.join(ROOT, config.quick ? 'bench/out' : 'docs/performance');
  const peers = PEERS.filter((p) => p.key === REFERENCE || !cli.peers || cli.peers.includes(p.key));
  const machine = machineInfo();
  log(`lifeline bench: ${machine.cpu}, ${machine.cores} cores, node ${machine.node}, ${config.runs} run(s)${config.quick ? ', quick' : ''}`);

  const skipped = {};
  if (peers.some((p) => p.broker)) {
    const broker = await ensureBroker();
    if (!broker.ok) for (const p of peers) if (p.broker) skipped[p.key] = broker.reason;
    if (broker.started) log('started Mosquitto (mosquitto -d)');
  }
  if (peers.some((p) => p.lifeline)) {
    const reason = await lifelineAvailable();
    if (reason) for (const p of peers) if (p.lifeline) skipped[p.key] = reason;
  }
  for (const [k, reason] of Object.entries(skipped)) log(`skip ${k}: ${reason}`);

  const raw = Object.fromEntries(
    peers.map((p) => [p.key, { perf: [], shapesRemote: [], shapesLocal: [], paired: [], memory: {}, replay: [], skipped: skipped[p.key] }]),
  );
  const params = { ...config };
  for (let run = 1; run <= config.runs; run++) {
    for (const spec of peers) {
      if (skipped[spec.key]) continue;
      const record = async (task, list, taskParams) => {
        const result = await runTask(spec.key, task, taskParams, config.taskMs);
        list.push({ run, result });
        log(`[run ${run}/${config.runs}] ${spec.key} ${task}${task === 'memory' ? ` ${taskParams.inFlight}` : ''}: ${describe(result)}`);
      };
      const runs = (task) => cli.tasks.includes(task) && runsTask(spec, task);
      if (runs('perf')) await record('perf', raw[spec.key].perf, params);
      if (runs('shapes')) {
        await record('shapes-remote', raw[spec.key].shapesRemote, { ...params, run });
        if (!notApplicable(spec, 'shapes-local')) await record('shapes-local', raw[spec.key].shapesLocal, { ...params, run });
      }
      if (runs('paired') && spec.key !== REFERENCE) await record('paired', raw[spec.key].paired, params);
      if (runs('memory')) {
        for (const n of config.inFlight) {
          if (notApplicable(spec, 'memory', n)) continue;
          await record('memory', (raw[spec.key].memory[n] ??= []), { ...params, inFlight: n });
        }
      }
      if (runs('replay') && !notApplicable(spec, 'replay')) await record('replay', raw[spec.key].replay, params);
    }
  }

  const doc = {
    generatedAt: new Date().toISOString(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    durationMs: performance.now() - started,
    config: { ...config, payloadBytes: PAYLOAD_BYTES, tasks: cli.tasks },
    machine,
    peers: aggregate(peers, raw, config),
    raw,
  };
  const table = markdown(doc);
  const shapes = cli.tasks.includes('shapes') ? shapesMarkdown(doc) : undefined;
  await mkdir(outDir, { recursive: true });
  await writeFile(path.join(outDir, 'results.json'), `${JSON.stringify(doc, null, 2)}\n`);
  const shapesPart = shapes ? `\n\n## Load shapes\n\n${shapes}` : '';
  await writeFile(path.join(outDir, 'results.md'), `# Lifeline benchmark results\n\n${machineMarkdown(doc)}\n\n${table}${shapesPart}\n`);
  await writeFile(path.join(outDir, 'throughput.svg'), `${throughputSvg(doc)}\n`);
  await writeFile(path.join(outDir, 'latency.svg'), `${latencySvg(doc)}\n`);
  if (shapes) await writeFile(path.join(outDir, 'shapes.svg'), `${shapesSvg(doc)}\n`);
  const docsPage = path.join(ROOT, 'docs/performance.md');
  if (cli.docs && outDir === path.join(ROOT, 'docs/performance')) {
    try {
      let text = await readFile(docsPage, 'utf8');
      text = replaceSection(text, 'machine', machineMarkdown(doc));
      text = replaceSection(text, 'table', table);
      if (shapes) text = replaceSection(text, 'shapes', shapes);
      await writeFile(docsPage, text);
    } catch (error) {
      log(`could not update ${docsPage}: ${error.message}`);
    }
  }
  console.log(`\n${table}\n${shapes ? `\n${shapes}\n` : ''}`);
  log(`written to ${path.relative(ROOT, outDir)}/ in ${Math.round(doc.durationMs / 1000)} s`);
  return doc.peers.find((p) => p.key === REFERENCE)?.perf.median ? 0 : 1;
}

runMain(main, USAGE);
