/** The machine and software a run measured, read at run time. */
import os from 'node:os';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

const PACKAGES = [
  'ws',
  'socket.io',
  'socket.io-client',
  'mqtt',
  'hdr-histogram-js',
  '@lifeline/sdk',
  '@lifeline/server',
  '@lifeline/metrics',
  '@lifeline/fault-proxy',
];

function version(name) {
  try {
    return require(`${name}/package.json`).version;
  } catch {
    return 'unavailable';
  }
}

function mosquittoVersion() {
  const r = spawnSync('mosquitto', ['-h'], { encoding: 'utf8', timeout: 2_000 });
  const line = `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').find((l) => /mosquitto version/i.test(l));
  return line?.trim().replace(/^mosquitto version\s*/i, '') ?? 'unavailable';
}

export function machineInfo() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model?.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} (${os.arch()})`,
    node: process.version,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    packages: Object.fromEntries(PACKAGES.map((p) => [p, version(p)])),
    mosquitto: mosquittoVersion(),
  };
}
