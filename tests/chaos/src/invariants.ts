import { isDeepStrictEqual } from 'node:util';
import { AckTimeoutError, ClosedError, RemoteError } from '@lifeline/sdk';
import { describeError } from './describe-error.js';
import type { Handling, Ledger, SendRecord } from './ledger.js';
import { resultOf } from './schedule.js';

/**
 * The invariants checked after every chaos run (DESIGN.md guarantees 1–4), on the ledger alone.
 *
 * Client → server, per id: handled at most once per server session; handled at least once by
 * some server unless a short deadline expired first; handled by more than one server only when
 * the id was reported in `session-lost` that many times; the send settled with the right result
 * (from a server that handled it), `RemoteError` `E_CHAOS` for ids that throw, or — only with a
 * short deadline — `AckTimeoutError`, whose `maybeDelivered: false` means no server ever saw it.
 * Per server session: seqs strictly increasing and ids in send order.
 *
 * Server → client, per generation: the client got pushes 1..m in order, each once; every push
 * that resolved is among them; the last generation's pushes all resolved; an earlier
 * generation's may reject with `ClosedError` (its server went away), and one rejected with
 * `maybeDelivered: false` was never delivered.
 */

export interface Stats {
  sends: number;
  pushes: number;
  handlerCalls: number;
  deliveries: number;
  /** sends + pushes whose fate was checked */
  messagesChecked: number;
  remoteErrors: number;
  ackTimeouts: number;
  sessionLost: number;
  unknownReported: number;
  resumed: number;
  heartbeatDrops: number;
  lost: number;
  duplicates: number;
  /** Channel publications made (guarantee 9; checked by channel-invariants.ts). */
  publications: number;
  channelDeliveries: number;
  gaps: number;
}

export interface Findings {
  violations: string[];
  stats: Stats;
}

const MAX_REPORTED = 40;

export function checkLedger(ledger: Ledger, finalGen: number): Findings {
  const v: string[] = [];
  let lost = 0;
  let duplicates = 0;
  let remoteErrors = 0;
  let ackTimeouts = 0;

  // ---- handler calls: grouped by id and by server session --------------------------------
  const byId = new Map<string, Handling[]>();
  const bySession = new Map<string, Handling[]>();
  for (const h of ledger.handled) {
    if (h.index < 0) v.push(`handler g${h.gen} got id ${h.id} that the client never sent`);
    byId.set(h.id, [...(byId.get(h.id) ?? []), h]);
    const key = `g${h.gen}/${h.sid}`;
    bySession.set(key, [...(bySession.get(key) ?? []), h]);
  }
  for (const [key, calls] of bySession) {
    for (let i = 1; i < calls.length; i++) {
      const a = calls[i - 1]!;
      const b = calls[i]!;
      if (b.seq <= a.seq) v.push(`session ${key}: handler saw seq ${b.seq} (${b.id}) after seq ${a.seq} (${a.id})`);
      if (b.index <= a.index) v.push(`session ${key}: handler saw ${b.id} after ${a.id}, against send order`);
    }
  }
  const reported = new Map<string, number>();
  for (const report of ledger.lost) for (const id of report.ids) reported.set(id, (reported.get(id) ?? 0) + 1);

  // ---- every send ----------------------------------------------------------------------------
  for (const record of ledger.sends.values()) {
    const calls = byId.get(record.id) ?? [];
    const perSession = new Map<string, number>();
    for (const c of calls) perSession.set(`g${c.gen}/${c.sid}`, (perSession.get(`g${c.gen}/${c.sid}`) ?? 0) + 1);
    for (const [key, n] of perSession) {
      if (n > 1) {
        duplicates += n - 1;
        v.push(`${record.id} handled ${n} times in session ${key}`);
      }
    }
    const gens = [...new Set(calls.map((c) => c.gen))];
    const times = reported.get(record.id) ?? 0;
    if (gens.length - 1 > times) {
      duplicates += gens.length - 1 - times;
      v.push(`${record.id} handled by servers g${gens.join(', g')} but reported unknown-outcome ${times} time(s)`);
    }
    const problem = checkOutcome(record, gens);
    if (problem !== undefined) {
      lost++;
      v.push(problem);
    }
    const error = record.outcome?.kind === 'rejected' ? record.outcome.error : undefined;
    if (error instanceof RemoteError) remoteErrors++;
    if (error instanceof AckTimeoutError) ackTimeouts++;
  }

  // ---- session-lost reports --------------------------------------------------------------------
  if (ledger.lost.length !== ledger.faults.restart) {
    v.push(`${ledger.lost.length} 'session-lost' events for ${ledger.faults.restart} server restarts`);
  }
  for (const [i, r] of ledger.lost.entries()) {
    if (r.unknown !== r.ids.length) v.push(`session-lost #${i}: unknown=${r.unknown} but ${r.ids.length} ids`);
    if (r.pending !== r.ids.length) v.push(`session-lost #${i}: ${r.ids.length - r.pending} reported ids had already settled`);
    if (r.strangers > 0) v.push(`session-lost #${i}: ${r.strangers} reported ids were never sent`);
    const missing = r.onWire.filter((id) => !r.ids.includes(id));
    const extra = r.ids.filter((id) => !r.onWire.includes(id));
    if (missing.length > 0) v.push(`session-lost #${i}: in flight but not reported: ${missing.join(', ')}`);
    if (extra.length > 0) v.push(`session-lost #${i}: reported but not in flight: ${extra.join(', ')}`);
    const order = r.ids.map((id) => ledger.sends.get(id)?.index ?? -1);
    if (order.some((n, j) => j > 0 && n <= order[j - 1]!)) v.push(`session-lost #${i}: ids not in send order: ${r.ids.join(', ')}`);
  }

  // ---- server pushes ---------------------------------------------------------------------------
  const got = new Map<number, number[]>();
  for (const d of ledger.delivered) got.set(d.g, [...(got.get(d.g) ?? []), d.k]);
  const pushed = new Map<number, number>();
  for (const p of ledger.pushes) pushed.set(p.gen, Math.max(pushed.get(p.gen) ?? 0, p.k));
  const deliveredSet = new Map<number, Set<number>>();
  for (const [g, ks] of got) {
    const seen = new Set<number>();
    let expected = 1;
    for (const k of ks) {
      if (seen.has(k)) {
        duplicates++;
        v.push(`push g${g}/${k} delivered again`);
        continue;
      }
      seen.add(k);
      if (k !== expected) v.push(`push g${g}/${k} delivered when g${g}/${expected} was next (out of order or a gap)`);
      expected = Math.max(expected, k + 1);
      if (k > (pushed.get(g) ?? 0)) v.push(`push g${g}/${k} delivered but never sent`);
    }
    deliveredSet.set(g, seen);
  }
  for (const p of ledger.pushes) {
    const delivered = deliveredSet.get(p.gen)?.has(p.k) ?? false;
    const o = p.outcome;
    if (o === undefined) {
      lost++;
      v.push(`push g${p.gen}/${p.k} never settled`);
    } else if (o.kind === 'resolved') {
      if (!delivered) {
        lost++;
        v.push(`push g${p.gen}/${p.k} resolved but the client never got it`);
      }
    } else if (o.error instanceof ClosedError && p.gen !== finalGen) {
      if (!o.error.maybeDelivered && delivered) v.push(`push g${p.gen}/${p.k} rejected with maybeDelivered=false, yet delivered`);
    } else {
      lost++;
      v.push(`push g${p.gen}/${p.k} rejected: ${describeError(o.error)}`);
    }
  }

  const handlerCalls = ledger.handled.length;
  const unknownReported = ledger.lost.reduce((n, r) => n + r.unknown, 0);
  const stats: Stats = {
    sends: ledger.sends.size,
    pushes: ledger.pushes.length,
    handlerCalls,
    deliveries: ledger.delivered.length,
    messagesChecked: ledger.sends.size + ledger.pushes.length,
    remoteErrors,
    ackTimeouts,
    sessionLost: ledger.lost.length,
    unknownReported,
    resumed: ledger.resumed,
    heartbeatDrops: ledger.disconnects['4000'] ?? 0,
    lost,
    duplicates,
    publications: 0,
    channelDeliveries: 0,
    gaps: 0,
  };
  for (const line of ledger.unexpected) v.push(line);
  if (v.length > MAX_REPORTED) v.splice(MAX_REPORTED, v.length - MAX_REPORTED, `… and ${v.length - MAX_REPORTED} more`);
  return { violations: v, stats };
}

/** What is wrong with how `record`'s send settled, given the generations that handled it. */
function checkOutcome(record: SendRecord, gens: number[]): string | undefined {
  const o = record.outcome;
  const id = record.id;
  if (o === undefined) return `${id} never settled`;
  const fromHandler = (g: number, what: string) => {
    if (!gens.includes(g)) return `${id} settled with ${what} from g${g}, which never handled it (handled by [${gens.join(', ')}])`;
    if (gens.some((h) => h > g)) return `${id} handled again by a later server after its outcome was known`;
    return undefined;
  };
  if (o.kind === 'resolved') {
    const value = o.value as { g?: unknown };
    if (record.behaviour.throws) return `${id} should throw but resolved with ${JSON.stringify(o.value)}`;
    const g = typeof value?.g === 'number' ? value.g : -1;
    if (!isDeepStrictEqual(o.value, resultOf(record.index, g))) return `${id} resolved with a wrong result ${JSON.stringify(o.value)}`;
    return fromHandler(g, 'a result');
  }
  const e = o.error;
  if (e instanceof RemoteError) {
    if (!record.behaviour.throws) return `${id} rejected with RemoteError ${e.remoteCode}: ${e.message}`;
    if (e.remoteCode !== 'E_CHAOS') return `${id} rejected with RemoteError code ${e.remoteCode}, expected E_CHAOS (${e.message})`;
    const g = Number(/ on g(\d+)$/.exec(e.message)?.[1] ?? -1);
    return fromHandler(g, 'RemoteError');
  }
  if (e instanceof AckTimeoutError && record.timeoutMs !== undefined) {
    if (!e.maybeDelivered && gens.length > 0) return `${id} timed out with maybeDelivered=false, yet g${gens.join(', g')} handled it`;
    return undefined;
  }
  return `${id} rejected unexpectedly: ${describeError(e)}`;
}
