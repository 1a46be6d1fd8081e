import { afterEach, describe, expect, it } from 'vitest';
import { limits, sessionStateContract } from '../../server/test/engine-contract.js';
import { fixture, keysOf, type Fixture } from './kit.js';

// The same contract as the memory engine, on the real Redis: two engines (two nodes) on one key
// prefix, so races between nodes are real races between Redis connections.
sessionStateContract('redisEngine', async () => {
  const f = await fixture();
  return { engine: f.engine(), peer: f.engine(), done: () => f.cleanup() };
});

describe('redisEngine: session keys', () => {
  let f: Fixture;
  afterEach(async () => {
    await f.cleanup();
  });

  it('puts every key of a session under its hash tag, each with the resume window as TTL, and end deletes them', async () => {
    f = await fixture();
    const engine = f.engine();
    const sid = 'sess-1';
    await engine.sessions.create({ id: sid, tokenHash: 'a'.repeat(64), previousTokenHash: null, identityHash: 'i'.repeat(64), expiresAt: null }, limits, null);
    await engine.nodes.heartbeat('A', 60_000);
    await engine.sessions.claim(sid, 1, 'm1', 'A');
    await engine.sessions.claim(sid, 2, 'm2', 'A');
    await engine.sessions.complete(sid, 1, 'A', { error: false, data: '1' });
    await engine.pushes.append(sid, 'p1');
    const keys = (await keysOf(f.admin, f.prefix)).filter((k) => k.includes(`{${sid}}`)).sort();
    expect(keys).toEqual(['oo', 'p', 'r'].map((k) => `${f.prefix}s{${sid}}:${k}`));
    for (const key of keys) {
      const ttl = await f.admin.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(limits.ttlMs);
    }
    await engine.sessions.end(sid);
    expect((await keysOf(f.admin, f.prefix)).filter((k) => k.includes(`{${sid}}`))).toEqual([]);
  });

  it('restarts the TTLs on a per-message write only once a quarter of ttlMs has passed; touch always does, refresh for the holder only', async () => {
    f = await fixture();
    const engine = f.engine();
    const sid = 'sess-ttl';
    await engine.nodes.heartbeat('A', 60_000);
    await engine.sessions.create({ id: sid, tokenHash: 'a'.repeat(64), previousTokenHash: null, identityHash: 'i'.repeat(64), expiresAt: null }, limits, 'A');
    await engine.sessions.claim(sid, 1, 'm1', 'A');
    await engine.sessions.complete(sid, 1, 'A', { error: false, data: '1' });
    await engine.pushes.append(sid, 'p1');
    const keys = ['r', 'oo', 'p'].map((k) => `${f.prefix}s{${sid}}:${k}`);
    // As if 10 s of the 60 s had passed: a write leaves the TTLs alone.
    for (const key of keys) await f.admin.pexpire(key, 50_000);
    await engine.sessions.claim(sid, 2, 'm2', 'A');
    await engine.sessions.complete(sid, 2, 'A', { error: false, data: '2' });
    for (const key of keys) expect(await f.admin.pttl(key)).toBeLessThanOrEqual(50_000);
    // 20 s passed (more than ¼ of ttlMs): the next write gives every key the full ttlMs again.
    for (const key of keys) await f.admin.pexpire(key, 40_000);
    await engine.sessions.claim(sid, 3, 'm3', 'A');
    for (const key of keys) expect(await f.admin.pttl(key)).toBeGreaterThan(50_000);
    for (const key of keys) await f.admin.pexpire(key, 50_000);
    expect(await engine.sessions.touch(sid)).toBe(true);
    for (const key of keys) expect(await f.admin.pttl(key)).toBeGreaterThan(50_000);
    // refresh: another node's leaves the TTLs alone; the holder's restarts them.
    for (const key of keys) await f.admin.pexpire(key, 50_000);
    expect(await engine.sessions.refresh!(sid, 'B')).toBe('A');
    for (const key of keys) expect(await f.admin.pttl(key)).toBeLessThanOrEqual(50_000);
    expect(await engine.sessions.refresh!(sid, 'A')).toBe('A');
    for (const key of keys) expect(await f.admin.pttl(key)).toBeGreaterThan(50_000);
  });

  it('costs Redis a bounded number of bytes per session (figure printed)', async () => {
    f = await fixture();
    const engine = f.engine();
    await engine.nodes.heartbeat('A', 60_000);
    const n = 500;
    const sessionLimits = { ...limits, results: 1024, resultChars: 4 << 20, pushes: 100, pushChars: 1 << 20 };
    for (let i = 0; i < n; i++) {
      const sid = `s${i}`;
      await engine.sessions.create({ id: sid, tokenHash: 'a'.repeat(64), previousTokenHash: null, identityHash: 'i'.repeat(64), expiresAt: null }, sessionLimits, 'A');
      for (let seq = 1; seq <= 10; seq++) {
        await engine.sessions.claim(sid, seq, `id-${seq}`, 'A');
        await engine.sessions.complete(sid, seq, 'A', { error: false, data: JSON.stringify({ ok: true, seq }) });
      }
      await engine.pushes.append(sid, JSON.stringify({ hello: i }));
    }
    let bytes = 0;
    for (const key of await keysOf(f.admin, f.prefix)) bytes += Number(await f.admin.memory('USAGE', key));
    const perSession = bytes / n;
    console.log(`redis: ${n} sessions with 10 cached outcomes and 1 push each: ${(bytes / 1024).toFixed(0)} KiB, ${perSession.toFixed(0)} B per session`);
    expect(perSession).toBeLessThan(8 * 1024);
  });
});

