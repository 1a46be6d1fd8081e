import { afterEach, describe, expect, it } from 'vitest';
import { memoryEngine, type MemoryEngine } from '../src/engine/memory-engine.js';
import type { SessionEngine } from '../src/engine/engine-sessions.js';
import type { SessionImpl, SessionLifecycle } from '../src/session.js';
import type { SharedNode } from '../src/shared/node.js';
import { SharedSessions } from '../src/shared/shared-sessions.js';
import { limits, record } from './engine-contract.js';

// The touch sweep of the sessions a node holds (guarantee 10): each one still held here is
// refreshed in the engine, one the engine says another node holds ends here as `moved`, one the
// engine no longer knows as `expired`. A short TTL makes the sweep run every 100 ms; the test
// awaits what the sweep does, never a time.

const TTL_MS = 300;

/** A held session as the sweep sees it: its id, its state, and `end`, which resolves `ended`. */
function heldSession(id: string) {
  let done: (reason: string) => void = () => {};
  const ended = new Promise<string>((resolve) => (done = resolve));
  const session = {
    id,
    state: 'attached',
    end(reason: string) {
      session.state = 'closed';
      done(reason);
    },
  };
  return { session, ended };
}

/** Engine calls counted by name, and a promise per (method, sid) that resolves at its first call. */
function counted(real: SessionEngine, withRefresh: boolean) {
  const calls: string[] = [];
  const waiters = new Map<string, () => void>();
  const seen = (name: string, sid: string) => {
    calls.push(name);
    waiters.get(`${name}:${sid}`)?.();
  };
  const sessions: SessionEngine = {
    ...real,
    get: (sid) => (seen('get', sid), real.get(sid)),
    touch: (sid) => (seen('touch', sid), real.touch(sid)),
    refresh: withRefresh ? (sid, node) => (seen('refresh', sid), real.refresh!(sid, node)) : undefined,
  };
  const called = (name: string, sid: string) => new Promise<void>((resolve) => waiters.set(`${name}:${sid}`, resolve));
  return { sessions, calls, called };
}

const engines: MemoryEngine[] = [];
const sweeps: SharedSessions[] = [];
afterEach(async () => {
  for (const s of sweeps.splice(0)) s.stop();
  for (const e of engines.splice(0)) await e.close();
});

async function setup(withRefresh: boolean) {
  const clock = { now: 1_000_000 };
  const engine = memoryEngine({ now: () => clock.now, sweepIntervalMs: Infinity });
  engines.push(engine);
  const ttl = { ...limits, ttlMs: TTL_MS };
  await engine.sessions.create(record('mine'), ttl, 'A');
  await engine.sessions.create(record('moved'), ttl, 'B');
  const spy = counted(engine.sessions, withRefresh);
  const node = { id: 'A', engine: { ...engine, sessions: spy.sessions } } as unknown as SharedNode;
  const mine = heldSession('mine');
  const moved = heldSession('moved');
  const gone = heldSession('gone');
  const held = new Map([mine, moved, gone].map((h) => [h.session.id, h.session as unknown as SessionImpl]));
  const errors: unknown[] = [];
  const local: SessionLifecycle = { attached: () => {}, detached: () => {}, ended: () => {} };
  const sweep = new SharedSessions(node, held, ttl, { resumeWindowMs: TTL_MS, now: () => clock.now, overloadRetryMs: 1_000 }, local, (e) => errors.push(e));
  sweeps.push(sweep);
  return { engine, clock, spy, sweep, mine, moved, gone, errors };
}

/**
 * One sweep just before the TTL runs out, awaited through what it does: `mine` refreshed (the
 * engine call `first` names), `moved` and `gone` ended. Then the TTL passes: only the sweep kept `mine`.
 */
async function sweepOnce(withRefresh: boolean, first: 'refresh' | 'touch') {
  const { engine, clock, spy, sweep, mine, moved, gone, errors } = await setup(withRefresh);
  clock.now += TTL_MS - 1;
  const kept = spy.called(first, 'mine');
  sweep.start();
  await kept;
  expect(await moved.ended).toBe('moved');
  expect(await gone.ended).toBe('expired');
  sweep.stop();
  expect(mine.session.state).toBe('attached');
  clock.now += 2;
  expect((await engine.sessions.get('mine'))?.holder).toBe('A');
  expect(errors).toEqual([]);
  return { engine, calls: spy.calls };
}

describe('the touch sweep (SharedSessions)', () => {
  it('refreshes a session held here in one engine call, and ends one moved to another node or gone from the engine', async () => {
    const { engine, calls } = await sweepOnce(true, 'refresh');
    expect(await engine.sessions.get('moved')).toBeUndefined();
    // One call per session and sweep; the fallback's `get` and `touch` are not used.
    expect(calls.filter((c) => c !== 'refresh')).toEqual([]);
  });

  it('reads and touches instead when the engine has no refresh', async () => {
    const { calls } = await sweepOnce(false, 'touch');
    expect(calls).toContain('get');
    expect(calls).not.toContain('refresh');
  });
});
