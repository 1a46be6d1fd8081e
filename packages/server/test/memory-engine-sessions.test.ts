import { afterEach, describe, expect, it } from 'vitest';
import { ClosedError } from '@lifeline/protocol';
import { memoryEngine, type MemoryEngine } from '../src/engine/memory-engine.js';
import { limits, record, sessionStateContract } from './engine-contract.js';

// One process: both "nodes" share the same engine object.
sessionStateContract('memoryEngine', async () => {
  const engine = memoryEngine({ sweepIntervalMs: Infinity });
  return { engine, peer: engine, done: () => engine.close() };
});

describe('memoryEngine: session state over time (an injected clock)', () => {
  const engines: MemoryEngine[] = [];
  function setup() {
    const clock = { now: 1_000_000 };
    const engine = memoryEngine({ now: () => clock.now, sweepIntervalMs: Infinity });
    engines.push(engine);
    return { engine, clock };
  }
  afterEach(async () => {
    for (const engine of engines.splice(0)) await engine.close();
  });

  it('forgets a session ttlMs after its last create, rotate, detach, touch or its holder\'s refresh; a per-message write restarts that only past a quarter of it', async () => {
    const { engine, clock } = setup();
    await engine.sessions.create(record('s1'), limits, null);
    await engine.sessions.create(record('s2'), limits, null);
    clock.now += limits.ttlMs - 1;
    await engine.sessions.touch('s1');
    clock.now += 1;
    engine.sweep();
    expect(engine.sessionCount).toBe(1);
    expect(await engine.sessions.get('s2')).toBeUndefined();
    // s1 was touched at ttlMs - 1: it lives until 2 × ttlMs - 1.
    clock.now += limits.ttlMs - 2;
    expect(await engine.sessions.get('s1')).toBeDefined();
    clock.now += 1;
    expect(await engine.sessions.get('s1')).toBeUndefined();

    // refresh restarts the TTL for the holder only.
    await engine.sessions.create(record('s4'), limits, 'A');
    await engine.sessions.create(record('s5'), limits, 'A');
    clock.now += limits.ttlMs - 1;
    expect(await engine.sessions.refresh!('s4', 'A')).toBe('A');
    expect(await engine.sessions.refresh!('s5', 'B')).toBe('A');
    clock.now += 1;
    expect(await engine.sessions.get('s4')).toBeDefined();
    expect(await engine.sessions.get('s5')).toBeUndefined();
    await engine.sessions.end('s4');

    await engine.nodes.heartbeat('A', 10 * limits.ttlMs);
    await engine.sessions.create(record('s3'), limits, 'A');
    const created = clock.now;
    // Less than a quarter in: a claim leaves the TTL as it was.
    clock.now += limits.ttlMs / 4 - 1;
    await engine.sessions.claim('s3', 1, 'm1', 'A');
    clock.now = created + limits.ttlMs - 1;
    expect(await engine.sessions.get('s3')).toBeDefined();
    // Past a quarter (since create): the complete restarts it, so s3 lives ttlMs from now.
    await engine.sessions.complete('s3', 1, 'A', { error: false, data: '1' });
    clock.now += limits.ttlMs - 1;
    expect(await engine.sessions.get('s3')).toBeDefined();
    clock.now += 1;
    expect(await engine.sessions.get('s3')).toBeUndefined();
  });

  it('lets a heartbeat lapse: the node is dead and its claim is taken over', async () => {
    const { engine, clock } = setup();
    await engine.sessions.create(record('s'), limits, null);
    await engine.nodes.heartbeat('A', 1_000);
    await engine.nodes.heartbeat('B', 10_000);
    await engine.sessions.claim('s', 1, 'm1', 'A');
    clock.now += 999;
    expect(await engine.sessions.claim('s', 1, 'm1', 'B')).toEqual({ status: 'running-elsewhere', node: 'A', alive: true });
    clock.now += 1;
    expect(await engine.sessions.claim('s', 1, 'm1', 'B')).toEqual({ status: 'claimed', redelivered: true });
  });

  it('drops 20,000 abandoned sessions at one sweep (memory printed)', async () => {
    const { engine, clock } = setup();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 20_000; i++) {
      await engine.sessions.create(record(`s${i}`), limits, null);
      await engine.pushes.append(`s${i}`, 'p');
    }
    const held = process.memoryUsage().heapUsed;
    clock.now += limits.ttlMs;
    engine.sweep();
    expect(engine.sessionCount).toBe(0);
    console.log(`20,000 sessions: heap ${((held - before) / 2 ** 20).toFixed(1)} MiB held, swept to ${engine.sessionCount}`);
  });

  it('rejects every call once closed, and bad input with a TypeError', async () => {
    const { engine } = setup();
    await expect(engine.sessions.create(record(''), limits, null)).rejects.toThrow(TypeError);
    await expect(engine.sessions.create(record('s'), { ...limits, ttlMs: 0 }, null)).rejects.toThrow(TypeError);
    await expect(engine.sessions.claim('s', 0, 'm', 'A')).rejects.toThrow(TypeError);
    await expect(engine.pushes.append('s', 1 as unknown as string)).rejects.toThrow(TypeError);
    await engine.close();
    await expect(engine.sessions.get('s')).rejects.toThrow(ClosedError);
    await expect(engine.nodes.alive('A')).rejects.toThrow(ClosedError);
  });
});
