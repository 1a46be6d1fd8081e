/** Is Mosquitto listening on 127.0.0.1:1883? If not, try once to start it as a daemon. */
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { sleep } from './deadline.mjs';
import { BROKER } from './peers/mqtt.mjs';

function reachable(ms = 1_000) {
  return new Promise((resolve) => {
    const socket = net.connect(BROKER.port, BROKER.host);
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(ms, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Resolves `{ ok: true }` or `{ ok: false, reason }`. */
export async function ensureBroker() {
  if (await reachable()) return { ok: true };
  const r = spawnSync('mosquitto', ['-d', '-c', '/etc/mosquitto/mosquitto.conf'], { encoding: 'utf8', timeout: 5_000 });
  if (r.error || r.status !== 0) {
    return { ok: false, reason: `Mosquitto not reachable on ${BROKER.host}:${BROKER.port} and could not be started (${r.error?.message ?? r.stderr?.trim() ?? `exit ${r.status}`})` };
  }
  for (let i = 0; i < 10; i++) {
    await sleep(200);
    if (await reachable()) return { ok: true, started: true };
  }
  return { ok: false, reason: `Mosquitto started but not reachable on ${BROKER.host}:${BROKER.port}` };
}

/**
 * Mosquitto's CPU time so far in µs (user + system of every `mosquitto` process, from
 * /proc/PID/stat in clock ticks), or `undefined` where that cannot be read (not Linux, no
 * broker process visible). Ticks are 10 ms at the usual 100 Hz: fine over a phase of a second.
 */
export function brokerCpuUs() {
  const pids = spawnSync('pgrep', ['-x', 'mosquitto'], { encoding: 'utf8', timeout: 2_000 }).stdout?.trim().split('\n').filter(Boolean) ?? [];
  if (pids.length === 0) return undefined;
  const hz = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 2_000 }).stdout) || 100;
  let ticks = 0;
  for (const pid of pids) {
    try {
      // Fields after the `(comm)`: state is field 3, utime 14 and stime 15.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      return undefined;
    }
  }
  return (ticks / hz) * 1e6;
}
