import { afterEach, describe, expect, it } from 'vitest';
import { RawClient, closeAll, gate, poll, startServer, urlOf, type AnyFrame } from '@lifeline/test-kit';
import { memoryEngine, type ClaimResult, type HandlerContext, type LifelineServer, type SessionEngine } from '../src/index.js';

// Claims a node holds that no handler of its will complete (a claim or complete call that failed
// on the node while the engine carried it out, or did not): two servers on one memoryEngine, the
// engine made to fail for one node the way a Redis command that timed out does.

afterEach(closeAll);

async function hello(url: string, resume?: { sid: string; token: string; seq: number }): Promise<{ client: RawClient; welcome: AnyFrame }> {
  const c = await RawClient.open(url);
  c.send({ t: 'hello', v: 1, win: 64, ...(resume === undefined ? {} : { resume }) });
  return { client: c, welcome: await c.next((fr) => fr.t === 'welcome' || fr.t === 'bye', 5_000) };
}

const msg = (seq: number, id: string, d: unknown = id) => ({ t: 'msg', seq, id, ts: 1, d });

/** Failures of one node's engine calls, switched on by the test. */
interface Faults {
  /** The next claim by this node is carried out, then rejects (a reply that came too late). */
  claimRunsThenFails?: string;
  /** Completes by this node reject without running (the engine unreachable). */
  completeDown?: string;
  /** Releases by this node reject without running. */
  releaseDown?: string;
  /** The next completeThenClaim by this node is carried out, then rejects. */
  completeClaimRunsThenFails?: string;
  /** The next completeThenClaimMany by this node is carried out, then rejects. */
  manyRunsThenFails?: string;
}

/** `many`: the engine also batches (`completeThenClaimMany`, as the calls one after the other), as Redis does. */
function faultyEngine(many = false) {
  const engine = memoryEngine();
  const real = engine.sessions;
  const faults: Faults = {};
  const calls: string[] = [];
  const timedOut = () => Object.assign(new Error('Command timed out'), { code: 'ETIMEDOUT' });
  const sessions: SessionEngine = {
    ...real,
    async claim(sid, seq, id, node) {
      calls.push(`claim ${seq}`);
      const result = await real.claim(sid, seq, id, node);
      if (faults.claimRunsThenFails === node) {
        faults.claimRunsThenFails = undefined;
        throw timedOut();
      }
      return result;
    },
    async complete(sid, seq, node, outcome) {
      calls.push(`complete ${seq}`);
      if (faults.completeDown === node) throw timedOut();
      return real.complete(sid, seq, node, outcome);
    },
    async release(sid, seq, node) {
      calls.push(`release ${seq}`);
      if (faults.releaseDown === node) throw timedOut();
      return real.release(sid, seq, node);
    },
    async completeThenClaim(sid, seq, node, outcome, next) {
      calls.push(`completeThenClaim ${seq} ${next.seq}`);
      if (faults.completeDown === node) throw timedOut();
      const result = await real.completeThenClaim!(sid, seq, node, outcome, next);
      if (faults.completeClaimRunsThenFails === node) {
        faults.completeClaimRunsThenFails = undefined;
        throw timedOut();
      }
      return result;
    },
  };
  if (many) {
    sessions.completeThenClaimMany = async (sid, node, done, next) => {
      calls.push(`completeThenClaimMany ${done.map((d) => d.seq).join(',')} ${next.map((n) => n.seq).join(',')}`);
      if (faults.completeDown === node) throw timedOut();
      const kept: boolean[] = [];
      for (const d of done) kept.push(await real.complete(sid, d.seq, node, d.outcome));
      const claims: ClaimResult[] = [];
      for (const n of next) claims.push(await real.claim(sid, n.seq, n.id, node));
      if (faults.manyRunsThenFails === node) {
        faults.manyRunsThenFails = undefined;
        throw timedOut();
      }
      return { kept, next: claims };
    };
  }
  Object.assign(engine, { sessions });
  return { engine, faults, calls };
}

function recording(name: string, handled: string[], slow?: Promise<unknown>) {
  return async (data: unknown, ctx: HandlerContext) => {
    handled.push(`${name}:${ctx.id}${ctx.redelivered ? ' (redelivered)' : ''}`);
    if (data === 'slow') await slow;
    return data;
  };
}

/**
 * Nodes A and B on one faulty engine, each handler recording into `handled`, and a client with a
 * session on A: `nodeA` is the node id the engine records as its holder.
 */
async function sessionOnA(slow?: Promise<unknown>, many = false) {
  const handled: string[] = [];
  const f = faultyEngine(many);
  const options = { engine: f.engine, overloadRetryMs: 20, nodeTimeoutMs: 5_000 };
  const a = await startServer({ ...options, handler: recording('a', handled, slow) });
  const b = await startServer({ ...options, handler: recording('b', handled, slow) });
  a.on('error', () => {});
  b.on('error', () => {});
  const { client: one, welcome } = await hello(urlOf(a));
  const nodeA = (await f.engine.sessions.get(welcome.sid as string))!.holder!;
  return { a, b, f, handled, one, welcome, nodeA };
}

describe('claims a node holds but will not complete (two servers on one memoryEngine)', () => {
  it('a claim recorded for this node whose handler never ran here is taken back on the retransmission and run once', async () => {
    const { a, f, handled, one, welcome, nodeA: node } = await sessionOnA();
    // The worst case: the engine carried the claim out after the node's release of it.
    expect(await f.engine.sessions.claim(welcome.sid, 1, 'm1', node)).toEqual({ status: 'claimed', redelivered: false });
    one.send(msg(1, 'm1'));
    expect((await one.acks(1, 5_000))[0]).toMatchObject({ seq: 1, r: 'm1' });
    expect(handled).toEqual(['a:m1']);
  });

  it('a claim that failed on the node but was recorded: the client on another node waits, then runs it there once the node releases it', async () => {
    const { a, b, f, handled, one, welcome, nodeA } = await sessionOnA();
    f.faults.claimRunsThenFails = nodeA;
    f.faults.releaseDown = nodeA;
    one.send(msg(1, 'm1'));
    expect(await one.closedWith(5_000)).toBe(1013);
    const { client: two, welcome: again } = await hello(urlOf(b), { sid: welcome.sid, token: welcome.token, seq: 0 });
    expect(again).toMatchObject({ t: 'welcome', resumed: true, seq: 1 });
    two.send(msg(1, 'm1'));
    // A is alive and the engine says it holds m1: B waits while A cannot release it.
    await poll(() => f.calls.filter((c) => c === 'release 1').length >= 2, "A's release to be tried more than once", 5_000);
    expect(handled).toEqual([]);
    f.faults.releaseDown = undefined;
    expect((await two.acks(1, 5_000))[0]).toMatchObject({ seq: 1, r: 'm1' });
    // Its handler never ran: a first delivery on B.
    expect(handled).toEqual(['b:m1']);
  });

  it('a complete that failed on the node: its outcome is stored once the engine answers, and a retransmission on another node gets it; never run twice', async () => {
    const { a, b, f, handled, one, welcome, nodeA } = await sessionOnA();
    f.faults.completeDown = nodeA;
    one.send(msg(1, 'm1'));
    expect(await one.closedWith(5_000)).toBe(1013);
    const { client: two } = await hello(urlOf(b), { sid: welcome.sid, token: welcome.token, seq: 0 });
    two.send(msg(1, 'm1'));
    await poll(() => f.calls.filter((c) => c === 'complete 1').length >= 2, "A's complete to be tried again", 5_000);
    f.faults.completeDown = undefined;
    expect((await two.acks(1, 5_000))[0]).toMatchObject({ seq: 1, r: 'm1' });
    expect(handled).toEqual(['a:m1']);
  });

  it('a complete-then-claim that failed on the node but ran: the outcome stays, the next claim is released, each message runs once', async () => {
    const first = gate();
    const { a, b, f, handled, one, welcome, nodeA } = await sessionOnA(first.promise);
    f.faults.completeClaimRunsThenFails = nodeA;
    // m2 waits in the queue while m1's handler runs: m1's complete and m2's claim are one call.
    one.send(msg(1, 'm1', 'slow'));
    one.send(msg(2, 'm2'));
    await poll(() => handled.length === 1, 'the handler of m1 to start on A', 5_000);
    first.open();
    expect(await one.closedWith(5_000)).toBe(1013);
    expect(f.calls).toContain('completeThenClaim 1 2');
    const { client: two, welcome: again } = await hello(urlOf(b), { sid: welcome.sid, token: welcome.token, seq: 0 });
    // The call ran: m2 was claimed for A (the accepted mark), and A releases it.
    expect(again).toMatchObject({ t: 'welcome', resumed: true, seq: 2 });
    two.send(msg(1, 'm1', 'slow'));
    two.send(msg(2, 'm2'));
    expect(await two.acks(2, 5_000)).toMatchObject([
      { seq: 1, r: 'slow' },
      { seq: 2, r: 'm2' },
    ]);
    expect(handled).toEqual(['a:m1', 'b:m2']);
    expect(f.calls).toContain('release 2');
  });

  it('a handler still running here for a copy of the session that moved away is never run again when the client comes back', async () => {
    const release = gate();
    const { a, b, f, handled, one, welcome } = await sessionOnA(release.promise);
    one.send(msg(1, 'm1', 'slow'));
    await poll(() => handled.length === 1, 'the handler to start on A', 5_000);
    // To B and back to A: A's first copy ended (moved), its handler still runs.
    const { client: two, welcome: onB } = await hello(urlOf(b), { sid: welcome.sid, token: welcome.token, seq: 0 });
    expect(await one.closedWith(5_000)).toBe(4409);
    two.ws.terminate();
    const { client: three, welcome: back } = await hello(urlOf(a), { sid: welcome.sid, token: onB.token, seq: 0 });
    expect(back).toMatchObject({ t: 'welcome', resumed: true });
    three.send(msg(1, 'm1', 'slow'));
    // The engine says A holds m1 and nothing of this copy runs it: it waits for the first copy.
    const claims = f.calls.filter((c) => c === 'claim 1').length;
    await poll(() => handled.length > 1 || f.calls.filter((c) => c === 'claim 1').length >= claims + 3, 'the new copy to see m1 running a few times', 5_000);
    expect(handled).toEqual(['a:m1']);
    release.open();
    expect((await three.acks(1, 5_000))[0]).toMatchObject({ seq: 1, r: 'slow' });
    expect(handled).toEqual(['a:m1']);
  });

  it('a complete-then-claim-many that failed on the node but ran: the outcome stays, every claim of the next batch is released, each message runs once', async () => {
    const first = gate();
    const { a, b, f, handled, one, welcome, nodeA } = await sessionOnA(first.promise, true);
    f.faults.manyRunsThenFails = nodeA;
    // m2..m4 wait in the queue while m1's handler runs: m1's complete and their claims are one call.
    one.send(msg(1, 'm1', 'slow'));
    for (const seq of [2, 3, 4]) one.send(msg(seq, `m${seq}`));
    await poll(() => handled.length === 1, 'the handler of m1 to start on A', 5_000);
    first.open();
    expect(await one.closedWith(5_000)).toBe(1013);
    expect(f.calls).toContain('completeThenClaimMany 1 2,3,4');
    const { client: two, welcome: again } = await hello(urlOf(b), { sid: welcome.sid, token: welcome.token, seq: 0 });
    expect(again).toMatchObject({ t: 'welcome', resumed: true, seq: 4 });
    two.send(msg(1, 'm1', 'slow'));
    for (const seq of [2, 3, 4]) two.send(msg(seq, `m${seq}`));
    expect(await two.acks(4, 5_000)).toMatchObject([{ seq: 1, r: 'slow' }, { seq: 2 }, { seq: 3 }, { seq: 4 }]);
    // Never run on A, released by it: first deliveries on B.
    expect(handled).toEqual(['a:m1', 'b:m2', 'b:m3', 'b:m4']);
    for (const seq of [2, 3, 4]) expect(f.calls).toContain(`release ${seq}`);
  });

  it('a session that leaves the node mid-batch: the claims of the batch not run yet are released and run unflagged on the next node', async () => {
    const handled: string[] = [];
    const gates = { slow1: gate(), slow2: gate() };
    const f = faultyEngine(true);
    const handler = async (data: unknown, ctx: HandlerContext) => {
      handled.push(`${ctx.id}${ctx.redelivered ? ' (redelivered)' : ''}`);
      if (data === 'slow1' || data === 'slow2') await gates[data].promise;
      return ctx.id;
    };
    const options = { engine: f.engine, overloadRetryMs: 20, nodeTimeoutMs: 5_000, handler };
    const a = await startServer(options);
    const b = await startServer(options);
    a.on('error', () => {});
    b.on('error', () => {});
    const { client: one, welcome } = await hello(urlOf(a));
    one.send(msg(1, 'm1', 'slow1'));
    one.send(msg(2, 'm2', 'slow2'));
    for (const seq of [3, 4]) one.send(msg(seq, `m${seq}`));
    await poll(() => handled.length === 1, 'the handler of m1 to start on A', 5_000);
    gates.slow1.open();
    // m2..m4 were claimed with m1's complete; m2's handler runs when the session moves to B.
    await poll(() => handled.length === 2, 'the handler of m2 to start on A', 5_000);
    expect(f.calls).toContain('completeThenClaimMany 1 2,3,4');
    const { client: two, welcome: onB } = await hello(urlOf(b), { sid: welcome.sid, token: welcome.token, seq: 0 });
    expect(onB).toMatchObject({ t: 'welcome', resumed: true, seq: 4 });
    expect(await one.closedWith(5_000)).toBe(4409);
    for (const seq of [1, 2, 3, 4]) two.send(msg(seq, `m${seq}`));
    gates.slow2.open();
    expect(await two.acks(4, 5_000)).toMatchObject([{ seq: 1, r: 'm1' }, { seq: 2, r: 'm2' }, { seq: 3, r: 'm3' }, { seq: 4, r: 'm4' }]);
    // m2 ran on A (B waited for its outcome); m3 and m4 were let go by A, not handed over as redelivered.
    expect(handled).toEqual(['m1', 'm2', 'm3', 'm4']);
    for (const seq of [3, 4]) expect(f.calls).toContain(`release ${seq}`);
  });
});
