/** The engines benchmark's figures as markdown: notes on what they mean, then three tables. */

const fmt = (n, d = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : '–');
const ms = (us) => fmt(us / 1000, 2);
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : '–');
const checked = (done, expected) => `${fmt(done)}/${fmt(expected)}`;

function redisCells(p) {
  if (p.redisCommandsPerMsg === undefined) return [p.redisRoundTripsPerMsg > 0 ? fmt(p.redisRoundTripsPerMsg, 2) : '–', '–', '–'];
  return [fmt(p.redisRoundTripsPerMsg, 2), fmt(p.redisCommandsPerMsg, 2), fmt(p.redisCpuUsPerMsg, 2)];
}

function notes(run) {
  const m = run.machine;
  const p = run.params;
  const lines = [
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGB} GB, ${m.os}, Node ${m.node}, load average ${m.loadAverage.join(' / ')} at the start.`,
    `Payload ${run.payloadBytes} B of JSON; one server process per node, one process per client; handler returns \`{ ok: true }\`.`,
    `Sizes: ${fmt(p.messages)} sends windowed (${fmt(p.window)} outstanding), ${fmt(p.burst)} all at once, ${fmt(p.latency)} sequential, ${fmt(p.pushes)} pushes (${fmt(p.pushWindow)} outstanding); nodes: ${fmt(p.nodeMessages)} sends and ${fmt(p.nodeLatency)} sequential per client over ${p.clients} client processes.`,
  ];
  if (run.redis?.error) lines.push(`Redis: ${run.redis.error}`);
  else if (run.redis) {
    const b = run.redis.background;
    lines.push(
      `Redis ${run.redis.version} at ${run.redisUrl}, key prefix \`${run.keyPrefix}\` (${run.keysDeleted?.error ? `key cleanup FAILED: ${run.keysDeleted.error}` : `${fmt(run.keysDeleted?.deleted)} keys left by the engine deleted at the end`}).`,
      `Redis round trips are counted at the server's ioredis clients: exact, whatever else uses Redis. Redis commands (INFO total_commands_processed, including those run inside Lua scripts) and Redis CPU (INFO used_cpu_sys + used_cpu_user) are Redis-wide: other clients add to them. Measured just before the run, other clients drove ${fmt(b.commandsPerSecond)} commands/s and ${fmt(b.cpuUsPerSecond / 1000, 1)} ms Redis CPU/s with ${b.clients} clients connected.`,
    );
  }
  lines.push(`This machine has ${m.cores} cores, shared by the nodes, the client processes and Redis (and anything else running): ${m.cores <= 2 ? '3 nodes cannot scale beyond the cores; the 3-node row shows the cost of sharing state, not a cluster’s capacity.' : 'compare nodes against cores.'}`);
  return lines;
}

function sends(run) {
  const base = run.single.find((r) => r.engine === 'embedded' && !r.error);
  const rows = [
    `| engine | acked msg/s (window ${fmt(run.params.window)}) | × embedded | all at once msg/s (${fmt(run.params.burst)}) | × embedded | p50 ms | p99 ms | p99 × embedded | server µs CPU/msg | Redis round trips/msg | Redis commands/msg | Redis µs CPU/msg | handled/sent |`,
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of run.single) {
    if (r.error) {
      rows.push(`| ${r.engine} | FAILED: ${r.error} |${' |'.repeat(11)}`);
      continue;
    }
    const { pipelined: w, burst: b, sequential: s } = r;
    rows.push(
      `| ${r.engine} | ${fmt(w.perSecond)} | ${ratio(w.perSecond, base?.pipelined.perSecond)} | ${fmt(b.perSecond)} | ${ratio(b.perSecond, base?.burst.perSecond)} | ${ms(s.latency.p50)} | ${ms(s.latency.p99)} | ${ratio(s.latency.p99, base?.sequential.latency.p99)} | ${fmt(w.serverCpuUsPerMsg, 1)} | ${redisCells(w).join(' | ')} | ${checked(w.handled, w.count)} |`,
    );
  }
  const memory = run.single.find((r) => r.engine === 'memory' && !r.error);
  const redis = run.single.find((r) => r.engine === 'redis' && !r.error);
  if (memory && redis) {
    const x = redis.pipelined.perSecond / memory.pipelined.perSecond;
    rows.push('', `Target (issue 12): Redis ≥ 0.6× the memory engine's acked throughput: ${x.toFixed(2)}× windowed (${x >= 0.6 ? 'met' : 'NOT met'}), ${ratio(redis.burst.perSecond, memory.burst.perSecond)} all at once.`);
  }
  if (redis?.pipelined.redisCallsPerMsg) {
    const top = Object.entries(redis.pipelined.redisCallsPerMsg).sort((a, b) => b[1] - a[1]).slice(0, 8);
    rows.push('', `Redis calls per message in the windowed phase (INFO commandstats; inner Lua calls counted under their own names): ${top.map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}.`);
  }
  return rows;
}

function pushes(run) {
  const base = run.single.find((r) => r.engine === 'embedded' && !r.error);
  const rows = [
    `| engine | pushes/s acked (window ${fmt(run.params.pushWindow)}) | × embedded | server µs CPU/push | Redis round trips/push | Redis commands/push | Redis µs CPU/push | received/pushed |`,
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of run.single.filter((x) => !x.error)) {
    const p = r.push;
    rows.push(`| ${r.engine} | ${fmt(p.perSecond)} | ${ratio(p.perSecond, base?.push.perSecond)} | ${fmt(p.serverCpuUsPerMsg, 1)} | ${redisCells(p).join(' | ')} | ${checked(p.received, p.count)} |`);
  }
  return rows;
}

function nodes(run) {
  const one = run.nodes.find((r) => r.nodes === 1 && !r.error);
  const rows = [
    `| Redis nodes | client processes | acked msg/s total (window ${fmt(run.params.window)} each) | × 1 node | concurrent sequential p50 ms | p99 ms | server µs CPU/msg (all nodes) | Redis round trips/msg | Redis commands/msg | Redis µs CPU/msg | handled/sent | redelivered |`,
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of run.nodes) {
    if (r.error) {
      rows.push(`| ${r.nodes} | ${r.clients ?? '–'} | FAILED: ${r.error} |${' |'.repeat(9)}`);
      continue;
    }
    const { pipelined: w, sequential: s } = r;
    rows.push(
      `| ${r.nodes} | ${r.clients} | ${fmt(w.perSecond)} | ${ratio(w.perSecond, one?.pipelined.perSecond)} | ${ms(s.latency.p50)} | ${ms(s.latency.p99)} | ${fmt(w.serverCpuUsPerMsg, 1)} | ${redisCells(w).join(' | ')} | ${checked(w.handled, w.count)} | ${w.redelivered + s.redelivered} |`,
    );
  }
  return rows;
}

export function renderTables(run) {
  const parts = [notes(run).join('\n'), '### Sends: `client.send()` acked with the handler result (one node, one client)', sends(run).join('\n')];
  if (run.single.some((r) => !r.error)) parts.push('### Pushes: `session.send()` acked by the client (one node, one client)', pushes(run).join('\n'));
  if (run.nodes.length > 0) parts.push(`### 1 vs 3 nodes on one Redis prefix, ${run.params.clients} client processes spread over the nodes`, nodes(run).join('\n'));
  return parts.join('\n\n');
}
