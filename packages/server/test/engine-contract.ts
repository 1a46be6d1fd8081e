import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Engine } from '../src/engine/engine.js';
import type { ClaimResult, SessionLimits, SessionStateEngine } from '../src/engine/engine-sessions.js';
import type { SessionRecord } from '../src/store.js';

/**
 * The session-state contract of an `Engine` (engine-sessions.ts), without sockets or clocks, so
 * that any engine runs the same checks: the memory engine here, the Redis engine in
 * packages/redis (each test under its own key prefix). `make` gives a fresh engine and the
 * function that cleans up after it; `make(sameAs)` on an engine that can share state gives a
 * second node's view of it (memory: the same object).
 */
export interface ContractEngine {
  readonly engine: Engine & SessionStateEngine;
  /** Another node's engine on the same state (for races between nodes). */
  readonly peer: Engine & SessionStateEngine;
  done(): Promise<void>;
}

export const limits: SessionLimits = { ttlMs: 60_000, results: 3, resultChars: 100, pushes: 3, pushChars: 30 };

/** A session record for the engine tests (a random id unless given). */
export function record(id: string = randomUUID()): SessionRecord {
  return { id, tokenHash: 'a'.repeat(64), previousTokenHash: null, identityHash: 'i'.repeat(64), expiresAt: null };
}

const ok = (data: string) => ({ error: false, data });

export function sessionStateContract(name: string, make: () => Promise<ContractEngine>): void {
  describe(`${name}: session state (the Engine contract)`, () => {
    const open: ContractEngine[] = [];
    async function setup() {
      const made = await make();
      open.push(made);
      await made.engine.nodes.heartbeat('A', 60_000);
      await made.engine.nodes.heartbeat('B', 60_000);
      await made.engine.nodes.heartbeat('C', 60_000);
      return made;
    }
    afterEach(async () => {
      for (const made of open.splice(0)) await made.done();
    });

    it('creates a session once and reads it back', async () => {
      const { engine } = await setup();
      const r = record();
      expect(await engine.sessions.create(r, limits, null)).toBe(true);
      expect(await engine.sessions.create({ ...r, tokenHash: 'b'.repeat(64) }, limits, null)).toBe(false);
      expect(await engine.sessions.get(r.id)).toEqual({ record: r, holder: null, accepted: 0, pushSeq: 0, pushAcked: 0, limits });
      expect(await engine.sessions.get('nobody')).toBeUndefined();
    });

    it('rotates by compare-and-set: of two nodes resuming at once exactly one wins', async () => {
      const { engine, peer } = await setup();
      const r = record();
      await engine.sessions.create(r, limits, null);
      expect(await engine.sessions.rotate(r.id, 'z'.repeat(64), { tokenHash: 'b'.repeat(64), previousTokenHash: r.tokenHash }, 'A')).toEqual({ ok: false });
      const both = await Promise.all([
        engine.sessions.rotate(r.id, r.tokenHash, { tokenHash: 'b'.repeat(64), previousTokenHash: r.tokenHash }, 'A'),
        peer.sessions.rotate(r.id, r.tokenHash, { tokenHash: 'c'.repeat(64), previousTokenHash: r.tokenHash }, 'B'),
      ]);
      expect(both.filter((x) => x.ok)).toEqual([{ ok: true, previousHolder: null }]);
      const winner = both[0]!.ok ? 'A' : 'B';
      const stored = await peer.sessions.get(r.id);
      expect(stored?.holder).toBe(winner);
      expect(stored?.record).toMatchObject({ tokenHash: (winner === 'A' ? 'b' : 'c').repeat(64), previousTokenHash: r.tokenHash, expiresAt: null });
      const next = await engine.sessions.rotate(r.id, stored!.record.tokenHash, { tokenHash: 'd'.repeat(64), previousTokenHash: stored!.record.tokenHash }, 'C');
      expect(next).toEqual({ ok: true, previousHolder: winner });
    });

    it('lets only the holder detach', async () => {
      const { engine } = await setup();
      const r = record();
      await engine.sessions.create(r, limits, null);
      await engine.sessions.rotate(r.id, r.tokenHash, { tokenHash: 'b'.repeat(64), previousTokenHash: r.tokenHash }, 'B');
      expect(await engine.sessions.detach(r.id, 'A', 123)).toBe(false);
      expect((await engine.sessions.get(r.id))?.holder).toBe('B');
      expect(await engine.sessions.detach(r.id, 'B', 123)).toBe(true);
      expect(await engine.sessions.get(r.id)).toMatchObject({ holder: null, record: { expiresAt: 123 } });
      expect(await engine.sessions.touch(r.id)).toBe(true);
      expect(await engine.sessions.touch('nobody')).toBe(false);
      expect(await engine.sessions.detach('nobody', 'B', 1)).toBe(false);
      // A session created by a node's connection is held by it from the start.
      const held = record();
      expect(await engine.sessions.create(held, limits, 'C')).toBe(true);
      expect((await engine.sessions.get(held.id))?.holder).toBe('C');
      expect(await engine.sessions.detach(held.id, 'A', 5)).toBe(false);
      expect(await engine.sessions.detach(held.id, 'C', 5)).toBe(true);
    });

    it("refreshes a session only for its holder, and says who holds it", async () => {
      const { engine, peer } = await setup();
      const held = record();
      await engine.sessions.create(held, limits, 'A');
      expect(await engine.sessions.refresh?.(held.id, 'A')).toBe('A');
      // Another node is told the holder and touches nothing (the contract's TTL side is in each engine's own tests).
      expect(await peer.sessions.refresh?.(held.id, 'B')).toBe('A');
      expect(await engine.sessions.detach(held.id, 'A', 7)).toBe(true);
      expect(await engine.sessions.refresh?.(held.id, 'A')).toBeNull();
      expect(await engine.sessions.refresh?.('nobody', 'A')).toBeUndefined();
      expect(engine.sessions.refresh).toBeTypeOf('function');
    });

    it('claims an id before its handler runs: one node of two gets it, the other sees it running', async () => {
      const { engine, peer } = await setup();
      const r = record();
      await engine.sessions.create(r, limits, null);
      const both = await Promise.all([engine.sessions.claim(r.id, 1, 'm1', 'A'), peer.sessions.claim(r.id, 1, 'm1', 'B')]);
      expect(both.filter((c) => c.status === 'claimed')).toEqual([{ status: 'claimed', redelivered: false }]);
      const holder = both[0]!.status === 'claimed' ? 'A' : 'B';
      expect(both.find((c) => c.status !== 'claimed')).toEqual({ status: 'running-elsewhere', node: holder, alive: true });
      // A retransmission on the holder itself while its handler runs.
      expect(await engine.sessions.claim(r.id, 1, 'm1', holder)).toEqual({ status: 'running-elsewhere', node: holder, alive: true });
      expect((await engine.sessions.get(r.id))?.accepted).toBe(1);
      expect(await engine.sessions.complete(r.id, 1, holder === 'A' ? 'B' : 'A', ok('"x"'))).toBe(false);
      expect(await engine.sessions.complete(r.id, 1, holder, ok('"done"'))).toBe(true);
      expect(await peer.sessions.claim(r.id, 1, 'm1', 'C')).toEqual({ status: 'duplicate', outcome: ok('"done"') });
      expect(await engine.sessions.complete(r.id, 1, holder, ok('"again"'))).toBe(false);
      expect(await peer.sessions.claim(r.id, 1, 'm1', 'C')).toEqual({ status: 'duplicate', outcome: ok('"done"') });
    });

    it('of 3 nodes racing on each of 50 seqs, exactly one claims each; each outcome is stored once', async () => {
      const { engine, peer } = await setup();
      const r = record();
      await engine.sessions.create(r, { ...limits, results: 100, resultChars: 10_000 }, null);
      const claimers = [
        [engine, 'A'],
        [peer, 'B'],
        [engine, 'C'],
      ] as const;
      const seqs = Array.from({ length: 50 }, (_, i) => i + 1);
      const results = await Promise.all(seqs.flatMap((seq) => claimers.map(async ([e, node]) => ({ seq, node, c: await e.sessions.claim(r.id, seq, `m${seq}`, node) }))));
      const winners = results.filter((x) => x.c.status === 'claimed');
      expect(winners.map((x) => x.seq).sort((a, b) => a - b)).toEqual(seqs);
      expect(results.filter((x) => x.c.status !== 'claimed').every((x) => x.c.status === 'running-elsewhere')).toBe(true);
      await Promise.all(winners.map((w) => engine.sessions.complete(r.id, w.seq, w.node, ok(String(w.seq)))));
      expect((await engine.sessions.get(r.id))?.accepted).toBe(50);
      const again = await Promise.all(seqs.map((seq) => peer.sessions.claim(r.id, seq, `m${seq}`, 'B')));
      expect(again).toEqual(seqs.map((seq) => ({ status: 'duplicate', outcome: ok(String(seq)) })));
    });

    it("of 2 nodes taking over a dead node's claim at once, exactly one gets it", async () => {
      const { engine, peer } = await setup();
      const r = record();
      await engine.sessions.create(r, limits, null);
      for (const seq of [1, 2, 3]) await engine.sessions.claim(r.id, seq, `m${seq}`, 'A');
      await engine.nodes.leave('A');
      for (const seq of [1, 2, 3]) {
        const both = await Promise.all([engine.sessions.claim(r.id, seq, `m${seq}`, 'B'), peer.sessions.claim(r.id, seq, `m${seq}`, 'C')]);
        expect(both.filter((c) => c.status === 'claimed')).toEqual([{ status: 'claimed', redelivered: true }]);
        const winner = both[0]!.status === 'claimed' ? 'B' : 'C';
        expect(both.find((c) => c.status !== 'claimed')).toEqual({ status: 'running-elsewhere', node: winner, alive: true });
      }
    });

    it('completes and claims the next message in one call, as the two calls one after the other', async () => {
      const { engine, peer } = await setup();
      const r = record();
      await engine.sessions.create(r, limits, null);
      const both = engine.sessions.completeThenClaim?.bind(engine.sessions);
      expect(both).toBeDefined();
      if (both === undefined) return;
      await engine.sessions.claim(r.id, 1, 'm1', 'A');
      expect(await both(r.id, 1, 'A', ok('1'), { seq: 2, id: 'm2' })).toEqual({ kept: true, next: { status: 'claimed', redelivered: false } });
      expect((await engine.sessions.get(r.id))?.accepted).toBe(2);
      expect(await peer.sessions.claim(r.id, 1, 'm1', 'B')).toEqual({ status: 'duplicate', outcome: ok('1') });
      expect(await peer.sessions.claim(r.id, 2, 'm2', 'B')).toEqual({ status: 'running-elsewhere', node: 'A', alive: true });
      for (const seq of [2, 3, 4]) {
        expect(await both(r.id, seq, 'A', ok(String(seq)), { seq: seq + 1, id: `m${seq + 1}` })).toEqual({ kept: true, next: { status: 'claimed', redelivered: false } });
      }
      // results: 3 keeps 2, 3, 4; completing 5 evicts 2 before the next claim looks at it.
      expect(await both(r.id, 5, 'A', ok('5'), { seq: 2, id: 'm2' })).toEqual({ kept: true, next: { status: 'duplicate', outcome: undefined } });
      expect(await both(r.id, 5, 'A', ok('5'), { seq: 4, id: 'm4' })).toEqual({ kept: false, next: { status: 'duplicate', outcome: ok('4') } });
      // Not the holder: nothing stored, and the next claim is made all the same.
      await peer.sessions.claim(r.id, 6, 'm6', 'B');
      expect(await both(r.id, 6, 'A', ok('"a"'), { seq: 7, id: 'm7' })).toEqual({ kept: false, next: { status: 'claimed', redelivered: false } });
      expect(await both(r.id, 7, 'A', ok('7'), { seq: 6, id: 'm6' })).toEqual({ kept: true, next: { status: 'running-elsewhere', node: 'B', alive: true } });
      // The next claim's holder died: taken over once, flagged.
      await peer.nodes.leave('B');
      await engine.sessions.claim(r.id, 8, 'm8', 'A');
      expect(await both(r.id, 8, 'A', ok('8'), { seq: 6, id: 'm6' })).toEqual({ kept: true, next: { status: 'claimed', redelivered: true } });
      await expect(both(r.id, 6, 'A', ok('6'), { seq: 6, id: 'm6' })).rejects.toThrow(TypeError);
      await engine.sessions.end(r.id);
      expect(await both(r.id, 6, 'A', ok('6'), { seq: 9, id: 'm9' })).toEqual({ kept: false, next: { status: 'unknown-session' } });
    });

    it('completes and claims many messages in one call, as the calls one after the other', async () => {
      const { engine, peer } = await setup();
      const many = engine.sessions.completeThenClaimMany?.bind(engine.sessions);
      if (many === undefined) return; // optional: the server goes one message per call
      const r = record();
      await engine.sessions.create(r, limits, null);
      const next = (...seqs: number[]) => seqs.map((seq) => ({ seq, id: `m${seq}` }));
      const done = (...seqs: number[]) => seqs.map((seq) => ({ seq, outcome: ok(String(seq)) }));
      const claimed = { status: 'claimed', redelivered: false };
      expect(await many(r.id, 'A', [], next(1, 2))).toEqual({ kept: [], next: [claimed, claimed] });
      expect((await engine.sessions.get(r.id))?.accepted).toBe(2);
      expect(await peer.sessions.claim(r.id, 2, 'm2', 'B')).toEqual({ status: 'running-elsewhere', node: 'A', alive: true });
      // A claim after the completes sees them: 1 is a duplicate with its outcome.
      expect(await many(r.id, 'A', done(1, 2), next(3, 1, 4))).toEqual({ kept: [true, true], next: [claimed, { status: 'duplicate', outcome: ok('1') }, claimed] });
      expect(await peer.sessions.claim(r.id, 2, 'm2', 'B')).toEqual({ status: 'duplicate', outcome: ok('2') });
      // results: 3 keeps 2, 3, 4 after 3 and 4 complete; then completing 5 evicts 2.
      await peer.sessions.claim(r.id, 6, 'm6', 'B');
      expect(await many(r.id, 'A', done(3, 4, 6), next(5, 6))).toEqual({ kept: [true, true, false], next: [claimed, { status: 'running-elsewhere', node: 'B', alive: true }] });
      expect(await many(r.id, 'A', done(5), next(2))).toEqual({ kept: [true], next: [{ status: 'duplicate', outcome: undefined }] });
      // The holder of 6 died: taken over once, flagged.
      await peer.nodes.leave('B');
      expect(await many(r.id, 'A', [], next(6))).toEqual({ kept: [], next: [{ status: 'claimed', redelivered: true }] });
      await expect(many(r.id, 'A', done(7, 7), [])).rejects.toThrow(TypeError);
      await engine.sessions.end(r.id);
      expect(await many(r.id, 'A', done(6), next(7))).toEqual({ kept: [false], next: [{ status: 'unknown-session' }] });
    });

    it('batches exactly as the calls one after the other, in random runs of claims held, lost, evicted and oversized', async () => {
      const { engine, peer } = await setup();
      const many = engine.sessions.completeThenClaimMany?.bind(engine.sessions);
      if (many === undefined) return;
      // A seeded generator, so a failure names its run; every batch shape the server makes and
      // those it does not: completes of claims another node holds, repeats of old seqs,
      // outcomes over resultChars on their own, eviction by count and by characters.
      let x = 7;
      const rand = (n: number) => Math.floor(((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648) * n);
      const batched = record();
      const single = record();
      for (const r of [batched, single]) await engine.sessions.create(r, { ...limits, results: 5, resultChars: 120 }, null);
      let seq = 0;
      let claimedByA: number[] = [];
      for (let round = 0; round < 120; round++) {
        // The last rounds are plain (the shape Redis answers on its fast path), so what they leave is checked below.
        const plain = round >= 100;
        const done = claimedByA.map((s) => ({ seq: s, outcome: ok('x'.repeat(!plain && rand(20) === 0 ? 130 : rand(40))) }));
        if (!plain && rand(5) === 0) {
          // Another node claims the next seq first: A's claim of it is running-elsewhere, A's complete of it is refused.
          seq++;
          for (const r of [batched, single]) await peer.sessions.claim(r.id, seq, `m${seq}`, 'B');
          done.push({ seq, outcome: ok('"b"') });
        }
        const old = !plain && rand(4) === 0 && seq > 3 ? 1 + rand(seq) : 0;
        const next = Array.from({ length: rand(12) }, () => ({ seq: ++seq, id: `m${seq}` }));
        if (old > 0 && !next.some((n) => n.seq === old)) next.push({ seq: old, id: `m${old}` });
        const got = await many(batched.id, 'A', done, next);
        const kept: boolean[] = [];
        for (const d of done) kept.push(await engine.sessions.complete(single.id, d.seq, 'A', d.outcome));
        const claims: ClaimResult[] = [];
        for (const n of next) claims.push(await engine.sessions.claim(single.id, n.seq, n.id, 'A'));
        expect(got, `round ${round}`).toEqual({ kept, next: claims });
        claimedByA = next.filter((n, i) => claims[i]!.status === 'claimed').map((n) => n.seq);
      }
      // The state left behind answers alike: every seq's claim by a third node.
      const a = await engine.sessions.get(batched.id);
      const b = await engine.sessions.get(single.id);
      expect(a?.accepted).toBe(b?.accepted);
      for (let s = 1; s <= seq; s++) {
        expect(await peer.sessions.claim(batched.id, s, `m${s}`, 'C'), `seq ${s}`).toEqual(await peer.sessions.claim(single.id, s, `m${s}`, 'C'));
      }
    });

    it('stores error outcomes apart from results', async () => {
      const { engine } = await setup();
      const r = record();
      await engine.sessions.create(r, limits, null);
      await engine.sessions.claim(r.id, 1, 'm1', 'A');
      const e = { error: true, data: '{"code":"E","message":"m"}' };
      await engine.sessions.complete(r.id, 1, 'A', e);
      expect(await engine.sessions.claim(r.id, 1, 'm1', 'A')).toEqual({ status: 'duplicate', outcome: e });
    });

    it('hands a claim held by a dead node over once, flagged redelivered; after a second death it is lost, never run again', async () => {
      const { engine, peer } = await setup();
      const r = record();
      await engine.sessions.create(r, limits, null);
      expect(await engine.sessions.claim(r.id, 1, 'm1', 'A')).toEqual({ status: 'claimed', redelivered: false });
      await engine.nodes.leave('A');
      expect(await peer.nodes.alive('A')).toBe(false);
      expect(await peer.nodes.alive('B')).toBe(true);
      expect(await peer.sessions.claim(r.id, 1, 'm1', 'B')).toEqual({ status: 'claimed', redelivered: true });
      // The dead node's late outcome is refused: the one that counts is the new holder's.
      expect(await engine.sessions.complete(r.id, 1, 'A', ok('"late"'))).toBe(false);
      expect(await engine.sessions.claim(r.id, 1, 'm1', 'C')).toEqual({ status: 'running-elsewhere', node: 'B', alive: true });
      expect(await engine.sessions.complete(r.id, 1, 'B', ok('"b"'))).toBe(true);
      expect(await engine.sessions.claim(r.id, 1, 'm1', 'C')).toEqual({ status: 'duplicate', outcome: ok('"b"') });
      // A second death: seq 2 is taken over by B, then B dies too.
      await engine.sessions.claim(r.id, 2, 'm2', 'C');
      await engine.nodes.leave('C');
      expect(await peer.sessions.claim(r.id, 2, 'm2', 'B')).toEqual({ status: 'claimed', redelivered: true });
      await peer.nodes.leave('B');
      const lost = { error: true, data: '{"code":"ERR_HANDLER_LOST","message":"m"}' };
      expect(await engine.sessions.claim(r.id, 2, 'm2', 'D')).toEqual({ status: 'lost' });
      expect(await engine.sessions.complete(r.id, 2, 'B', ok('"late"'))).toBe(false);
      expect(await engine.sessions.complete(r.id, 2, 'D', lost)).toBe(true);
      expect(await peer.sessions.claim(r.id, 2, 'm2', 'A')).toEqual({ status: 'duplicate', outcome: lost });
    });

    it('releases a claim only for the node holding it with no outcome stored; the next claim gets it, not redelivered', async () => {
      const { engine, peer } = await setup();
      const r = record();
      await engine.sessions.create(r, limits, null);
      expect(await engine.sessions.claim(r.id, 1, 'm1', 'A')).toEqual({ status: 'claimed', redelivered: false });
      expect(await peer.sessions.release(r.id, 1, 'B')).toBe(false);
      expect(await peer.sessions.claim(r.id, 1, 'm1', 'B')).toEqual({ status: 'running-elsewhere', node: 'A', alive: true });
      expect(await engine.sessions.release(r.id, 1, 'A')).toBe(true);
      expect(await engine.sessions.release(r.id, 1, 'A')).toBe(false);
      // Its handler never ran: the next claimant runs it as a first delivery.
      expect(await peer.sessions.claim(r.id, 1, 'm1', 'B')).toEqual({ status: 'claimed', redelivered: false });
      expect(await engine.sessions.complete(r.id, 1, 'A', ok('"a"'))).toBe(false);
      expect(await peer.sessions.complete(r.id, 1, 'B', ok('"b"'))).toBe(true);
      // Completed: nothing to release, the outcome stays.
      expect(await peer.sessions.release(r.id, 1, 'B')).toBe(false);
      expect(await engine.sessions.claim(r.id, 1, 'm1', 'A')).toEqual({ status: 'duplicate', outcome: ok('"b"') });
      expect(await engine.sessions.release(r.id, 2, 'A')).toBe(false);
      expect(await engine.sessions.release('nobody', 1, 'A')).toBe(false);
      expect((await engine.sessions.get(r.id))?.accepted).toBe(1);
    });

    it('releases a claim taken over from a dead node to no live node: the next claim finds it lost, never runs it again', async () => {
      const { engine, peer } = await setup();
      const r = record();
      await engine.sessions.create(r, limits, null);
      await engine.sessions.claim(r.id, 1, 'm1', 'A');
      await engine.nodes.leave('A');
      expect(await peer.sessions.claim(r.id, 1, 'm1', 'B')).toEqual({ status: 'claimed', redelivered: true });
      expect(await peer.sessions.release(r.id, 1, 'B')).toBe(true);
      expect(await peer.sessions.release(r.id, 1, 'B')).toBe(false);
      // It ran on A, and maybe on a node before A: the claim does not say, so it is not run again.
      expect(await engine.sessions.claim(r.id, 1, 'm1', 'C')).toEqual({ status: 'lost' });
      expect(await peer.sessions.claim(r.id, 1, 'm1', 'B')).toEqual({ status: 'running-elsewhere', node: 'C', alive: true });
      const lost = { error: true, data: '{"code":"ERR_HANDLER_LOST","message":"m"}' };
      expect(await engine.sessions.complete(r.id, 1, 'C', lost)).toBe(true);
      expect(await peer.sessions.claim(r.id, 1, 'm1', 'B')).toEqual({ status: 'duplicate', outcome: lost });
    });

    it('keeps the accepted mark at the highest claim and runs a skipped seq, never an evicted one', async () => {
      const { engine } = await setup();
      const r = record();
      await engine.sessions.create(r, limits, null);
      await engine.sessions.claim(r.id, 5, 'm5', 'A');
      await engine.sessions.complete(r.id, 5, 'A', ok('5'));
      expect((await engine.sessions.get(r.id))?.accepted).toBe(5);
      expect(await engine.sessions.claim(r.id, 3, 'm3', 'A')).toEqual({ status: 'claimed', redelivered: false });
      expect((await engine.sessions.get(r.id))?.accepted).toBe(5);
      await engine.sessions.complete(r.id, 3, 'A', ok('3'));
      for (const seq of [6, 7]) {
        await engine.sessions.claim(r.id, seq, `m${seq}`, 'A');
        await engine.sessions.complete(r.id, seq, 'A', ok(String(seq)));
      }
      // results: 3 keeps 3 outcomes; the oldest completed (5) is evicted.
      expect(await engine.sessions.claim(r.id, 5, 'm5', 'A')).toEqual({ status: 'duplicate', outcome: undefined });
      expect(await engine.sessions.claim(r.id, 3, 'm3', 'A')).toEqual({ status: 'duplicate', outcome: ok('3') });
      expect(await engine.sessions.claim(r.id, 7, 'm7', 'A')).toEqual({ status: 'duplicate', outcome: ok('7') });
      // Below the highest evicted seq, a seq never claimed counts as handled: never run twice.
      expect(await engine.sessions.claim(r.id, 4, 'm4', 'A')).toEqual({ status: 'duplicate', outcome: undefined });
    });

    it('bounds the result cache by characters, and never stores an outcome larger than it', async () => {
      const { engine } = await setup();
      const r = record();
      await engine.sessions.create(r, limits, null);
      const big = ok('x'.repeat(101));
      await engine.sessions.claim(r.id, 1, 'm1', 'A');
      expect(await engine.sessions.complete(r.id, 1, 'A', big)).toBe(true);
      expect(await engine.sessions.claim(r.id, 1, 'm1', 'A')).toEqual({ status: 'duplicate', outcome: undefined });
      const sixty = ok('y'.repeat(60));
      for (const seq of [2, 3]) {
        await engine.sessions.claim(r.id, seq, `m${seq}`, 'A');
        await engine.sessions.complete(r.id, seq, 'A', sixty);
      }
      expect(await engine.sessions.claim(r.id, 2, 'm2', 'A')).toEqual({ status: 'duplicate', outcome: undefined });
      expect(await engine.sessions.claim(r.id, 3, 'm3', 'A')).toEqual({ status: 'duplicate', outcome: sixty });
    });

    it('numbers pushes, lists the unacknowledged ones, drops what the client acknowledged, bounds them', async () => {
      const { engine, peer } = await setup();
      const r = record();
      await engine.sessions.create(r, limits, null);
      expect(await engine.pushes.append(r.id, 'p1')).toBe(1);
      expect(await peer.pushes.append(r.id, 'p2')).toBe(2);
      expect(await engine.pushes.append(r.id, 'p3')).toBe(3);
      expect(await engine.pushes.append(r.id, 'p4')).toBe('full');
      expect(await peer.pushes.list(r.id)).toEqual([{ seq: 1, data: 'p1' }, { seq: 2, data: 'p2' }, { seq: 3, data: 'p3' }]);
      expect(await peer.pushes.list(r.id, 1, 1)).toEqual([{ seq: 2, data: 'p2' }]);
      expect(await peer.pushes.ack(r.id, 2)).toBe(2);
      expect(await peer.pushes.ack(r.id, 2)).toBe(0);
      expect(await engine.pushes.list(r.id)).toEqual([{ seq: 3, data: 'p3' }]);
      expect(await engine.sessions.get(r.id)).toMatchObject({ pushSeq: 3, pushAcked: 2 });
      // pushChars: 30 holds 'p3' and one of 28, not one of 29.
      expect(await engine.pushes.append(r.id, 'z'.repeat(29))).toBe('full');
      expect(await engine.pushes.append(r.id, 'z'.repeat(28))).toBe(4);
      // An ack past what was appended vouches for nothing not yet sent.
      expect(await engine.pushes.ack(r.id, 99)).toBe(2);
      expect(await engine.sessions.get(r.id)).toMatchObject({ pushSeq: 4, pushAcked: 4 });
      expect(await engine.pushes.append(r.id, 'p5')).toBe(5);
      expect(await engine.pushes.append('nobody', 'p')).toBeUndefined();
      expect(await engine.pushes.list('nobody')).toEqual([]);
      expect(await engine.pushes.ack('nobody', 3)).toBe(0);
    });

    it('appends many pushes in one call as the appends one after the other: full by count or characters, the next may fit', async () => {
      const { engine, peer } = await setup();
      const many = engine.pushes.appendMany?.bind(engine.pushes);
      if (many === undefined) return; // optional: the server appends one push per call
      const batched = record();
      const single = record();
      for (const r of [batched, single]) await engine.sessions.create(r, { ...limits, pushes: 6, pushChars: 60 }, null);
      let x = 11;
      const rand = (n: number) => Math.floor(((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648) * n);
      for (let round = 0; round < 40; round++) {
        const data = Array.from({ length: rand(6) }, (_, i) => `${round}.${i}`.padEnd(rand(14) + 2, 'z'));
        const got = await many(batched.id, data);
        const want = [];
        for (const d of data) want.push(await engine.pushes.append(single.id, d));
        expect(got, `round ${round}`).toEqual(want);
        if (rand(3) === 0) {
          const upTo = (await engine.sessions.get(single.id))!.pushSeq - rand(3);
          for (const r of [batched, single]) await peer.pushes.ack(r.id, Math.max(0, upTo));
        }
        expect(await peer.pushes.list(batched.id)).toEqual(await peer.pushes.list(single.id));
      }
      // Filled to the character exactly, then one over; a smaller push after a full one still fits.
      const exact = record();
      await engine.sessions.create(exact, { ...limits, pushes: 6, pushChars: 60 }, null);
      expect(await many(exact.id, ['a'.repeat(30), 'b'.repeat(29), 'c'.repeat(2), 'd'])).toEqual([1, 2, 'full', 3]);
      expect(await many(batched.id, [])).toEqual([]);
      expect(await many('nobody', ['p', 'q'])).toEqual([undefined, undefined]);
    });

    it('forgets every part of an ended session', async () => {
      const { engine, peer } = await setup();
      const r = record();
      await engine.sessions.create(r, limits, null);
      await engine.sessions.claim(r.id, 1, 'm1', 'A');
      await engine.sessions.claim(r.id, 2, 'm2', 'A');
      await engine.sessions.complete(r.id, 1, 'A', ok('1'));
      await engine.pushes.append(r.id, 'p1');
      await peer.sessions.end(r.id);
      await peer.sessions.end(r.id);
      expect(await engine.sessions.get(r.id)).toBeUndefined();
      expect(await engine.sessions.claim(r.id, 1, 'm1', 'A')).toEqual({ status: 'unknown-session' });
      expect(await engine.sessions.complete(r.id, 2, 'A', ok('2'))).toBe(false);
      expect(await engine.pushes.list(r.id)).toEqual([]);
      // The id may be created afresh, from nothing.
      expect(await engine.sessions.create(r, limits, null)).toBe(true);
      expect(await engine.sessions.get(r.id)).toMatchObject({ accepted: 0, pushSeq: 0 });
      expect(await engine.sessions.claim(r.id, 1, 'm1', 'A')).toEqual({ status: 'claimed', redelivered: false });
    });
  });
}
