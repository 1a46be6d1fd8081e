// Measures what Lifeline keeps in Redis (see redis-sizing.mjs for how to run it).
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { redisEngine } from '@lifeline/redis';

const url = process.argv[2] ?? 'redis://127.0.0.1:6379';
const prefix = `llsize:${randomBytes(4).toString('hex')}:`;
const admin = new Redis(url);
const engine = redisEngine({ url, keyPrefix: prefix });
const NODE = 'node-a';
const SESSIONS = 2_000;
const PUBLICATIONS = 10_000;
const hex = () => randomBytes(32).toString('hex');
const limits = { ttlMs: 120_000, results: 1024, resultChars: 4 << 20, pushes: 10_000, pushChars: 16 << 20 };

async function used(): Promise<number> {
  const info = await admin.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1]);
}

async function keyBytes(pattern: string): Promise<{ keys: number; bytes: number }> {
  let cursor = '0';
  let keys = 0;
  let bytes = 0;
  do {
    const [next, batch] = await admin.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    for (const key of batch) {
      keys++;
      bytes += (await admin.memory('USAGE', key, 'SAMPLES', '0')) ?? 0;
    }
  } while (cursor !== '0');
  return { keys, bytes };
}

const per = (bytes: number, n: number) => Math.round(bytes / n);

async function sessions(label: string, results: number, pushes: number): Promise<void> {
  const before = await used();
  const tag = `${label}-`;
  for (let i = 0; i < SESSIONS; i++) {
    const sid = `${tag}${i.toString(36).padStart(6, '0')}${randomBytes(8).toString('hex')}`;
    await engine.sessions.create({ id: sid, tokenHash: hex(), previousTokenHash: null, identityHash: hex(), expiresAt: null }, limits, NODE);
    for (let seq = 1; seq <= results; seq++) {
      await engine.sessions.claim(sid, seq, `m-${seq}-${randomBytes(8).toString('hex')}`, NODE);
      // A typical small result: {"ok":true,"orderId":"…","filled":12.5}
      await engine.sessions.complete(sid, seq, NODE, { error: false, data: JSON.stringify({ ok: true, orderId: randomBytes(8).toString('hex'), filled: 12.5 }) });
    }
    for (let k = 1; k <= pushes; k++) await engine.pushes.append(sid, JSON.stringify({ t: 'fill', k, px: 101.25, qty: 3 }));
    await engine.sessions.detach(sid, NODE, Date.now() + 120_000);
  }
  const after = await used();
  const { keys, bytes } = await keyBytes(`${prefix}s{${tag}*`);
  console.log(
    `sessions (${label}: ${results} outcomes, ${pushes} unacked pushes each): ${SESSIONS} sessions, ${keys} keys; ` +
      `used_memory +${after - before} B = ${per(after - before, SESSIONS)} B/session; MEMORY USAGE sum ${per(bytes, SESSIONS)} B/session`,
  );
}

try {
  console.log(`redis ${(/redis_version:(\S+)/.exec(await admin.info('server')) ?? [])[1]} at ${url}, prefix ${prefix}`);
  await engine.nodes.heartbeat(NODE, 60_000);
  await sessions('idle', 0, 0);
  await sessions('busy', 10, 10);

  const payload = { sym: 'ACME', px: 101.25, qty: 300, side: 'buy', ts: 1_700_000_000_000 };
  const before = await used();
  for (let i = 0; i < PUBLICATIONS; i++) await engine.publish('ticker', JSON.stringify({ ...payload, i }), { historySize: PUBLICATIONS, historyTtlMs: 300_000 });
  const after = await used();
  const log = await keyBytes(`${prefix}{ticker}:*`);
  console.log(
    `channel: ${PUBLICATIONS} publications of ${JSON.stringify({ ...payload, i: 0 }).length} characters kept in history: ` +
      `used_memory +${after - before} B = ${per(after - before, PUBLICATIONS)} B/publication; MEMORY USAGE of the channel's ${log.keys} keys ${per(log.bytes, PUBLICATIONS)} B/publication`,
  );
  const idBefore = await used();
  for (let i = 0; i < PUBLICATIONS; i++) await engine.publish('orders', JSON.stringify({ ...payload, i }), { historySize: PUBLICATIONS, historyTtlMs: 300_000, id: `ord-${i}-${randomBytes(6).toString('hex')}` });
  const idAfter = await used();
  console.log(`channel with an idempotency id (26 characters) on every publication: +${per(idAfter - idBefore, PUBLICATIONS)} B/publication`);
} finally {
  let cursor = '0';
  do {
    const [next, batch] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of batch) await admin.del(key);
  } while (cursor !== '0');
  await engine.close();
  admin.disconnect();
}
