import { isDeepStrictEqual } from 'node:util';
import { FaultProxy } from '@lifeline/fault-proxy';
import { ClosedError, createClient, type OutboxStore, type StoredMessage } from '@lifeline/sdk';
import { createServer } from '@lifeline/server';
import { describeError } from './describe-error.js';
import { Rng } from './prng.js';

/**
 * Client restarts with a durable outbox (DESIGN.md guarantee 8), under cuts. Each seed runs a
 * few client lifetimes against one server, all sharing one store: each lifetime sends a burst
 * while the proxy cuts the link now and then, and ends at a random moment, either closed or
 * "crashed" (the store stops recording while the client runs on a little, as if the process had
 * died there). The next lifetime restores what the store kept. Checked afterwards:
 *
 * - nothing lost: every id handled, and its caller or a `restored-settled` got its result;
 * - once per server session, in send order (a cut resumes the session; it never re-runs a handler);
 * - a second handling only where the docs allow it: one per restore of the id, one per
 *   `session-lost` report;
 * - a message pending at a restart is restored by the next lifetime, and after a close exactly
 *   those are; the store is empty once the last lifetime settled everything and closed.
 */

const WAIT_MS = 10_000;

/** An in-memory store that can "crash": from then on it records nothing until `revive()`. */
export class CrashableStore implements OutboxStore {
  readonly kept: StoredMessage[] = [];
  private crashed = false;

  load(): readonly StoredMessage[] {
    return [...this.kept];
  }

  add(message: StoredMessage): void {
    if (this.crashed) throw new Error('a send after the crash: the test should not make one');
    this.kept.push(message);
  }

  remove(ids: readonly string[]): void {
    if (this.crashed) return;
    for (const id of ids) {
      const i = this.kept.findIndex((m) => m.id === id);
      if (i >= 0) this.kept.splice(i, 1);
    }
  }

  crash(): void {
    this.crashed = true;
  }

  revive(): void {
    this.crashed = false;
  }
}

export interface RestartStats {
  lifetimes: number;
  crashes: number;
  sends: number;
  handlerCalls: number;
  restored: number;
  /** Handler calls beyond the first per id: each one allowed by a restore or a session-lost report. */
  secondHandlings: number;
  cuts: number;
}

export interface RestartResult {
  readonly seed: number;
  readonly violations: string[];
  readonly stats: RestartStats;
}

interface SendLog {
  readonly index: number;
  successes: number;
}

export async function runRestarts(seed: number): Promise<RestartResult> {
  const rng = new Rng(seed).fork('restarts');
  const v: string[] = [];
  const handled: Array<{ sid: string; id: string }> = [];
  const sends = new Map<string, SendLog>();
  const restoredIn: string[][] = [];
  const closedIn: Array<Set<string>> = [];
  const lost = new Map<string, number>();
  const stats: RestartStats = { lifetimes: 0, crashes: 0, sends: 0, handlerCalls: 0, restored: 0, secondHandlings: 0, cuts: 0 };
  const crashedAfter: boolean[] = [];

  // Outcomes wake the waits below; each wait has a deadline and names what it waited for.
  let settled = 0;
  const waiters = new Set<() => void>();
  const until = (holds: () => boolean, what: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = () => {
        if (!holds()) return;
        finish();
        resolve();
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`seed ${seed}: waited ${WAIT_MS} ms for ${what}`));
      }, WAIT_MS);
      const finish = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  const record = (lifetime: number, id: string, result: unknown, error: unknown) => {
    settled++;
    const log = sends.get(id);
    if (log === undefined) v.push(`an outcome for ${id}, which was never sent`);
    else if (error === undefined) {
      log.successes++;
      if (!isDeepStrictEqual(result, { ok: id })) v.push(`${id}: result ${JSON.stringify(result)}`);
    } else if (error instanceof ClosedError) closedIn[lifetime]?.add(id);
    else v.push(`${id}: failed with ${describeError(error)}`);
    for (const wake of [...waiters]) wake();
  };

  const server = createServer({
    port: 0,
    host: '127.0.0.1',
    handshakeTimeoutMs: 2_000,
    handler: (_data, ctx) => {
      handled.push({ sid: ctx.session.id, id: ctx.id });
      return { ok: ctx.id };
    },
  });
  server.on('error', (e) => v.push(`server 'error': ${describeError(e)}`));
  server.on('protocol-error', (e) => v.push(`server 'protocol-error': ${e.code} ${e.reason}`));
  await server.listen();
  const proxy = await FaultProxy.start({ target: { port: server.port }, random: rng.fork('proxy').next });
  const store = new CrashableStore();
  const lifetimes = rng.int(3, 6);
  try {
    for (let lifetime = 0; lifetime < lifetimes; lifetime++) {
      const last = lifetime === lifetimes - 1;
      closedIn.push(new Set());
      stats.lifetimes++;
      const before = settled;
      const client = createClient({
        url: proxy.url(),
        outbox: store,
        reconnect: { minDelayMs: 5, maxDelayMs: 50 },
        ackTimeoutMs: 60_000,
        random: rng.fork(`jitter ${lifetime}`).next,
      });
      client.on('error', (e) => v.push(`client ${lifetime} 'error': ${describeError(e)}`));
      client.on('protocol-error', (e) => v.push(`client ${lifetime} 'protocol-error': ${describeError(e)}`));
      client.on('session-lost', ({ ids }) => {
        for (const id of ids) lost.set(id, (lost.get(id) ?? 0) + 1);
      });
      let restored: string[] = [];
      client.on('restored', ({ ids }) => (restored = [...ids]));
      client.on('restored-settled', (o) => record(lifetime, o.id, o.result, o.error));
      await client.connect({ timeoutMs: WAIT_MS });
      restoredIn.push(restored);
      stats.restored += restored.length;

      const burst = rng.int(10, 40);
      for (let i = 0; i < burst; i++) {
        const id = `m${stats.sends}`;
        sends.set(id, { index: stats.sends++, successes: 0 });
        void client.send({ i }, { id }).then((r) => record(lifetime, id, r, undefined), (e: unknown) => record(lifetime, id, undefined, e));
        if (rng.chance(0.08)) stats.cuts += Math.min(1, proxy.cutAll());
        // Let I/O run between some sends, so cuts land with messages on the wire.
        if (rng.chance(0.25)) await new Promise((resolve) => setImmediate(resolve));
      }
      const expected = before + burst + restored.length;
      if (last) {
        await until(() => settled === expected, `lifetime ${lifetime}: all ${burst + restored.length} outcomes`);
        await client.close({ timeoutMs: WAIT_MS });
        break;
      }
      const restartAt = expected - rng.int(0, burst + restored.length);
      await until(() => settled >= restartAt, `lifetime ${lifetime}: part of the outcomes`);
      if (rng.chance(0.2)) stats.cuts += Math.min(1, proxy.cutAll());
      const crash = rng.chance(0.5);
      crashedAfter.push(crash);
      if (crash) {
        store.crash();
        stats.crashes++;
        // Acks that come in now are forgotten by nobody: the next lifetime restores these ids too.
        const more = Math.min(expected, settled + rng.int(0, 5));
        await until(() => settled >= more, `lifetime ${lifetime}: outcomes after the crash`);
      }
      await client.close({ timeoutMs: WAIT_MS });
      await until(() => settled === expected, `lifetime ${lifetime}: every send settled by close()`);
      store.revive();
    }
  } finally {
    await proxy.close();
    await server.close({ timeoutMs: 1_000 });
  }

  check();
  return { seed, violations: v.slice(0, 40), stats };

  function check(): void {
    stats.handlerCalls = handled.length;
    const calls = new Map<string, number>();
    const bySession = new Map<string, string[]>();
    for (const { sid, id } of handled) {
      calls.set(id, (calls.get(id) ?? 0) + 1);
      bySession.set(sid, [...(bySession.get(sid) ?? []), id]);
    }
    for (const [sid, ids] of bySession) {
      for (let i = 1; i < ids.length; i++) {
        const a = sends.get(ids[i - 1] as string)?.index ?? -1;
        const b = sends.get(ids[i] as string)?.index ?? -1;
        if (b <= a) v.push(`session ${sid}: handled ${ids[i]} after ${ids[i - 1]} (against send order, or twice)`);
      }
    }
    const restores = new Map<string, number>();
    for (const ids of restoredIn) for (const id of ids) restores.set(id, (restores.get(id) ?? 0) + 1);
    for (const [id, log] of sends) {
      const n = calls.get(id) ?? 0;
      if (n === 0) v.push(`${id}: lost (never handled)`);
      if (log.successes === 0) v.push(`${id}: no caller or restored-settled got its result`);
      const allowed = 1 + (restores.get(id) ?? 0) + (lost.get(id) ?? 0);
      if (n > allowed) v.push(`${id}: handled ${n} times, ${allowed} allowed (restored ${restores.get(id) ?? 0}, session-lost ${lost.get(id) ?? 0})`);
      stats.secondHandlings += Math.max(0, n - 1);
    }
    for (let i = 0; i + 1 < restoredIn.length; i++) {
      const pending = closedIn[i] as Set<string>;
      const next = restoredIn[i + 1] as string[];
      const missing = [...pending].filter((id) => !next.includes(id));
      if (missing.length > 0) v.push(`lifetime ${i}: pending at the restart but not restored: ${missing.join(', ')}`);
      // After a close the store held exactly what was pending; after a crash also what settled since.
      const extra = next.filter((id) => !pending.has(id));
      if (!crashedAfter[i] && extra.length > 0) v.push(`lifetime ${i + 1}: restored ${extra.join(', ')}, settled before the close`);
      const order = next.map((id) => sends.get(id)?.index ?? -1);
      if (order.some((x, k) => k > 0 && x <= (order[k - 1] as number))) v.push(`lifetime ${i + 1}: restored out of send order: ${next.join(', ')}`);
    }
    if (store.kept.length > 0) v.push(`the store kept ${store.kept.map((m) => m.id).join(', ')} after everything settled`);
  }
}
