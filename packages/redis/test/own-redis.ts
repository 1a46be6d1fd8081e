import type { ChildProcess } from 'node:child_process';
import { spawnOwnRedis, spawnOwnRedisOnFreePort } from '@lifeline/test-kit';

// A redis-server of a test's own on a free port, to kill and start again (no persistence).

const children: ChildProcess[] = [];

/** Kills every redis-server `startRedis` started (call it in `afterEach`). */
export function killRedisServers(): void {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
}

/** Starts a redis-server of this test's own on `port` (the test-kit's `spawnOwnRedis`: it checks the server answering is ours). */
export async function startRedis(port: number): Promise<ChildProcess> {
  const child = await spawnOwnRedis(port);
  children.push(child);
  return child;
}

/** `startRedis` on a free port, another one when a concurrent suite took it first. */
export async function startRedisOnFreePort(): Promise<{ port: number; child: ChildProcess }> {
  const started = await spawnOwnRedisOnFreePort();
  children.push(started.child);
  return started;
}
