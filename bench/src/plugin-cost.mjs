/**
 * `npm run bench:metrics`: what the metrics plugin costs, plugin off against plugin on.
 *
 * The full bench measures each peer for a fraction of a second, once per run; on a shared
 * two-core machine that is too short to tell a 5% difference from noise. Here each round runs
 * both variants back to back, in alternating order (off/on, then on/off), each for `--messages`
 * pipelined sends in fresh client and server processes, and the figure reported is the median of
 * the per-round ratios: a slow patch of the machine hits both halves of a round alike. CPU time
 * per message on both processes is reported beside throughput, since it is what the plugin adds
 * and is less disturbed by other load than wall time.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runTask } from './task.mjs';
import { runMain } from './main.mjs';
import { machineInfo } from './machine.mjs';
import { median, throughputCost } from './report.mjs';

const log = (...a) => console.error(...a);

const USAGE = `Usage: npm run bench:metrics [-- options]
  --rounds N     rounds of (off, on) pairs, order alternating (default 8)
  --messages N   pipelined sends measured per variant and round (default 100000)
  --json         print the result as JSON on stdout instead of a table
  --out FILE     also write the result as JSON to FILE (relative to where npm was run)`;

function parseCli(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string', default: '8' },
      messages: { type: 'string', default: '100000' },
      json: { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const rounds = Number(values.rounds);
  const messages = Number(values.messages);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 50) throw new TypeError(`--rounds must be an integer from 1 to 50, got ${values.rounds}`);
  if (!Number.isInteger(messages) || messages < 1_000 || messages > 2_000_000) {
    throw new TypeError(`--messages must be an integer from 1000 to 2000000, got ${values.messages}`);
  }
  return { rounds, messages, json: values.json, out: values.out, help: values.help };
}

async function runVariant(peer, messages) {
  const params = { warmup: Math.min(20_000, messages), messages, window: 1_000, phaseMs: 120_000 };
  const result = await runTask(peer, 'throughput', params, 180_000);
  if (result.error) throw new Error(`${peer}: ${result.error}`);
  return result;
}

async function main() {
  const cli = parseCli(process.argv.slice(2));
  if (cli.help) {
    console.log(USAGE);
    return 0;
  }
  const machine = machineInfo();
  log(`metrics plugin cost: ${machine.cpu}, ${machine.cores} cores, node ${machine.node}, ${cli.rounds} rounds × ${cli.messages} messages`);
  const rounds = [];
  for (let r = 0; r < cli.rounds; r++) {
    const order = r % 2 === 0 ? ['lifeline', 'lifeline-metrics'] : ['lifeline-metrics', 'lifeline'];
    const got = {};
    for (const peer of order) got[peer] = await runVariant(peer, cli.messages);
    const off = got.lifeline;
    const on = got['lifeline-metrics'];
    const round = {
      offPerSecond: off.perSecond,
      onPerSecond: on.perSecond,
      ratio: on.perSecond / off.perSecond,
      clientCpuUs: { off: off.cpuUsPerMsg, on: on.cpuUsPerMsg },
      serverCpuUs: { off: off.serverCpuUsPerMsg, on: on.serverCpuUsPerMsg },
    };
    rounds.push(round);
    log(
      `[round ${r + 1}/${cli.rounds}] off ${Math.round(off.perSecond)} msg/s, on ${Math.round(on.perSecond)} msg/s ` +
        `(${(round.ratio * 100).toFixed(1)}%); CPU µs/msg client ${off.cpuUsPerMsg.toFixed(2)} → ${on.cpuUsPerMsg.toFixed(2)}, ` +
        `server ${off.serverCpuUsPerMsg.toFixed(2)} → ${on.serverCpuUsPerMsg.toFixed(2)}`,
    );
  }
  const summary = {
    generatedAt: new Date().toISOString(),
    command: `npm run bench:metrics${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    machine: { cpu: machine.cpu, cores: machine.cores, node: machine.node, loadAverage: machine.loadAverage },
    rounds: cli.rounds,
    messages: cli.messages,
    medianOffPerSecond: median(rounds.map((r) => r.offPerSecond)),
    medianOnPerSecond: median(rounds.map((r) => r.onPerSecond)),
    throughputCost: throughputCost(rounds.map((r) => r.ratio)),
    clientCpuUsPerMsg: { off: median(rounds.map((r) => r.clientCpuUs.off)), on: median(rounds.map((r) => r.clientCpuUs.on)) },
    serverCpuUsPerMsg: { off: median(rounds.map((r) => r.serverCpuUs.off)), on: median(rounds.map((r) => r.serverCpuUs.on)) },
    perRound: rounds,
  };
  if (cli.out) await writeFile(path.resolve(process.env.INIT_CWD ?? process.cwd(), cli.out), `${JSON.stringify(summary, null, 2)}\n`);
  if (cli.json) {
    console.log(JSON.stringify(summary, null, 2));
    return 0;
  }
  const pct = (x) => `${(x * 100).toFixed(1)}%`;
  const us = (x) => x.toFixed(2);
  console.log(`
| | plugin off | plugin on | cost |
| --- | ---: | ---: | ---: |
| throughput, msg/s (median of ${cli.rounds}) | ${Math.round(summary.medianOffPerSecond).toLocaleString('en-US')} | ${Math.round(summary.medianOnPerSecond).toLocaleString('en-US')} | ${pct(summary.throughputCost)} (median of paired rounds) |
| client CPU µs/msg | ${us(summary.clientCpuUsPerMsg.off)} | ${us(summary.clientCpuUsPerMsg.on)} | ${pct(summary.clientCpuUsPerMsg.on / summary.clientCpuUsPerMsg.off - 1)} |
| server CPU µs/msg | ${us(summary.serverCpuUsPerMsg.off)} | ${us(summary.serverCpuUsPerMsg.on)} | ${pct(summary.serverCpuUsPerMsg.on / summary.serverCpuUsPerMsg.off - 1)} |
`);
  return 0;
}

runMain(main, USAGE);
