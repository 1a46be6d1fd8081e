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
  const p = port ?? (await freePort());
  let child = await spawnRedis(p);
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
      child = await spawnRedis(p);
    },
    stop,
  };
}

async function spawnRedis(port: number): Promise<ChildProcess> {
  const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], { stdio: 'ignore' });
  const failed = new Promise<never>((_, reject) => child.once('error', (e) => reject(new Error(`cannot start ${REDIS_SERVER}: ${e.message}`))));
  const deadline = Date.now() + 10_000;
  for (;;) {
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    try {
      const pong = await Promise.race([probe.connect().then(() => probe.ping()), failed]);
      if (pong === 'PONG') return child;
    } catch (error) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer: ${String(error)}`);
    } finally {
      probe.disconnect();
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
