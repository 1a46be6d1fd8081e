import { describe, expect, it } from 'vitest';
import { AckTimeoutError, ClosedError, RemoteError } from '@lifeline/sdk';
import { checkLedger } from '../src/invariants.js';
import { Ledger, type SendRecord } from '../src/ledger.js';
import { behaviourOf, resultOf } from '../src/schedule.js';

/** The checker itself: a ledger with one planted fault must produce a violation naming it. */

const ids = ['c0-1', 'c0-2', 'c0-3', 'c0-4', 'c0-5'].filter((id) => !behaviourOf(id).throws);

function clean(): Ledger {
  const l = new Ledger();
  ids.forEach((id, index) => {
    const record: SendRecord = { index, id, timeoutMs: undefined, behaviour: behaviourOf(id), outcome: { kind: 'resolved', value: resultOf(index, 0) } };
    l.sends.set(id, record);
    l.handled.push({ gen: 0, sid: 's0', id, seq: index + 1, index });
  });
  for (const k of [1, 2, 3]) {
    l.pushes.push({ gen: 0, k, outcome: { kind: 'resolved' } });
    l.delivered.push({ g: 0, k });
  }
  return l;
}

const violations = (l: Ledger, finalGen = 0) => checkLedger(l, finalGen).violations.join('\n');

describe('the invariant checker', () => {
  it('passes a clean ledger', () => {
    expect(ids.length).toBeGreaterThanOrEqual(3);
    const f = checkLedger(clean(), 0);
    expect(f.violations).toEqual([]);
    expect(f.stats).toMatchObject({ lost: 0, duplicates: 0, messagesChecked: ids.length + 3 });
  });

  it('flags a second handler call in one session, and out-of-order handling', () => {
    const l = clean();
    l.handled.push({ gen: 0, sid: 's0', id: ids[0]!, seq: 1, index: 0 });
    expect(violations(l)).toMatch(/handled 2 times in session g0\/s0/);
    expect(violations(l)).toMatch(/after seq \d+/);
    expect(checkLedger(l, 0).stats.duplicates).toBe(1);
  });

  it('flags handling by a second server without a session-lost report, and accepts it with one', () => {
    const l = clean();
    l.faults.restart = 1;
    l.handled.push({ gen: 1, sid: 's1', id: ids[1]!, seq: 1, index: 1 });
    (l.sends.get(ids[1]!) as SendRecord).outcome = { kind: 'resolved', value: resultOf(1, 1) };
    expect(violations(l, 1)).toMatch(/handled by servers g0, g1 but reported unknown-outcome 0 time/);
    l.lost.push({ ids: [ids[1]!], unknown: 1, pending: 1, strangers: 0, onWire: [ids[1]!] });
    expect(violations(l, 1)).toBe('');
  });

  it('flags an unsettled send, a wrong result, an unexpected error, and a timeout that lied about delivery', () => {
    const l = clean();
    (l.sends.get(ids[0]!) as SendRecord).outcome = undefined;
    (l.sends.get(ids[1]!) as SendRecord).outcome = { kind: 'resolved', value: { n: 99, sq: 0, g: 0 } };
    (l.sends.get(ids[2]!) as SendRecord).outcome = { kind: 'rejected', error: new RemoteError('ERR_RESULT_EVICTED', 'gone') };
    const v = violations(l);
    expect(v).toMatch(/never settled/);
    expect(v).toMatch(/wrong result/);
    expect(v).toMatch(/RemoteError ERR_RESULT_EVICTED/);
    const t = clean();
    const r = t.sends.get(ids[0]!) as SendRecord;
    t.sends.set(ids[0]!, { ...r, timeoutMs: 10, outcome: { kind: 'rejected', error: new AckTimeoutError(ids[0]!, false, 10) } });
    expect(violations(t)).toMatch(/maybeDelivered=false, yet g0 handled it/);
  });

  it('flags a push delivered twice, a gap, a resolved push never delivered, and session-lost mismatches', () => {
    const dup = clean();
    dup.delivered.push({ g: 0, k: 2 });
    expect(violations(dup)).toMatch(/push g0\/2 delivered again/);
    const gap = clean();
    gap.delivered.splice(1, 1);
    expect(violations(gap)).toMatch(/g0\/3 delivered when g0\/2 was next/);
    expect(violations(gap)).toMatch(/push g0\/2 resolved but the client never got it/);
    const old = clean();
    old.pushes.push({ gen: 0, k: 4, outcome: { kind: 'rejected', error: new ClosedError('gone', { maybeDelivered: false }) } });
    expect(violations(old, 0)).toMatch(/push g0\/4 rejected: ClosedError/); // the last server's pushes must all resolve
    expect(violations(old, 1)).not.toMatch(/g0\/4/); // an earlier server's push may end with ClosedError
    const lost = clean();
    lost.faults.restart = 1;
    lost.lost.push({ ids: [], unknown: 0, pending: 0, strangers: 0, onWire: [ids[0]!] });
    expect(violations(lost)).toMatch(/in flight but not reported: /);
  });
});
