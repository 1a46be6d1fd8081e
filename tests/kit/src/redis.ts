import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { Redis } from 'ioredis';
import { onCleanup } from './cleanup.js';

/** The shared Redis the tests use (`.ci/services.sh` starts it). */
export const REDIS_URL = 'redis://127.0.0.1:6379';
const REDIS_SERVER = '/usr/bin/redis-server';

/** A connected admin client of `url`, or an error saying how to get Redis; `closeAll` closes it. */
export async function redisAdmin(url = REDIS_URL): Promise<Redis> {
  const admin = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true, retryStrategy: () => null });
  admin.on('error', () => {});
  try {
    await admin.connect();
    await admin.ping();
  } catch (error) {
    admin.disconnect();
    throw new Error(`these tests need Redis at ${url} (run bash .ci/services.sh): ${String(error)}`);
  }
  onCleanup(() => admin.disconnect());
  return admin;
}

/** A fresh key prefix of this test; `closeAll` deletes every key under it. */
export function testPrefix(admin: Redis, name = 'lltest'): string {
  const prefix = `${name}:${randomBytes(6).toString('hex')}:`;
  onCleanup(() => deleteKeys(admin, prefix));
  return prefix;
}

export async function deleteKeys(admin: Redis, prefix: string): Promise<number> {
  if (admin.status !== 'ready') return 0;
  let cursor = '0';
  let n = 0;
  // Bounded: SCAN ends when the cursor comes back to 0; one DEL per key (Cluster slots differ).
  do {
    const [next, batch] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of batch) n += await admin.del(key);
  } while (cursor !== '0');
  return n;
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** A redis-server of the test's own (no persistence): `restart()` loses everything, as a crash would. */
export interface PrivateRedis {
  readonly port: number;
  readonly url: string;
  /** SIGKILL, then start again on the same port, empty. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedis(port?: number): Promise<PrivateRedis> {
  let child: ChildProcess;
  let p: number;
  if (port === undefined) ({ port: p, child } = await spawnOwnRedisOnFreePort());
  else child = await spawnOwnRedis((p = port));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  };
  onCleanup(stop);
  return {
    port: p,
    url: `redis://127.0.0.1:${p}`,
    async restart() {
      await stop();
      child = await spawnOwnRedis(p);
    },
    stop,
  };
}

/** The port a test's own redis-server was to take is held by another process. */
export class PortTakenError extends Error {
  override readonly name = 'PortTakenError';
}

/**
 * Starts a redis-server of the test's own on `port` and resolves once THAT server answers (its
 * `process_id`): between `freePort()` and the spawn another suite's server may take the port,
 * and a test would then kill, restart and count on a Redis that is not its own.
 */
export async function spawnOwnRedis(port: number): Promise<ChildProcess> {
  const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], { stdio: 'ignore' });
  const failed = new Promise<never>((_, reject) => child.once('error', (e) => reject(new Error(`cannot start ${REDIS_SERVER}: ${e.message}`))));
  failed.catch(() => {});
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new PortTakenError(`redis-server on port ${port} exited at start (port taken?)`);
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    try {
      const info = await Promise.race([probe.connect().then(() => probe.info('server')), failed]);
      const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
      if (pid === child.pid) return child;
      child.kill('SIGKILL');
      throw new PortTakenError(`port ${port} is served by redis-server pid ${pid}, not this test's (${child.pid})`);
    } catch (error) {
      if (error instanceof PortTakenError) throw error;
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`redis-server on port ${port} did not answer: ${String(error)}`);
      }
    } finally {
      probe.disconnect();
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** `spawnOwnRedis` on a free port, another one (up to five) when the port was taken meanwhile. */
export async function spawnOwnRedisOnFreePort(): Promise<{ port: number; child: ChildProcess }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return { port, child: await spawnOwnRedis(port) };
    } catch (error) {
      if (!(error instanceof PortTakenError) || attempt === 5) throw error;
    }
  }
}
