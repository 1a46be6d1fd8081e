import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { until } from './kit.js';

// A redis-server of a test's own on a free port, to kill and start again (no persistence).

const REDIS_SERVER = '/usr/bin/redis-server';
const children: ChildProcess[] = [];

/** Kills every redis-server `startRedis` started (call it in `afterEach`). */
export function killRedisServers(): void {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
}

export { freePort } from '@lifeline/test-kit';

/** Starts redis-server on `port` and resolves once it answers PING (bounded by `until`). */
export async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  children.push(child);
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    await until(`redis-server on port ${port}`, async () => {
      try {
        if (probe.status !== 'ready') await probe.connect();
        return (await probe.ping()) === 'PONG';
      } catch {
        probe.disconnect();
        return false;
      }
    });
  } finally {
    probe.disconnect();
  }
  return child;
}
