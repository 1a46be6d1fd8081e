/** Is Mosquitto listening on 127.0.0.1:1883? If not, try once to start it as a daemon. */
import net from 'node:net';
import { spawnSync } from 'node:child_process';
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
