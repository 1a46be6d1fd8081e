import { describe, expect, it } from 'vitest';
import { checkChannel } from '../src/channel-invariants.js';
import { ChannelLedger } from '../src/ledger.js';

/** The channel checker itself: a planted fault must produce a violation naming it. */

/** Publications 1..n of generation `gen` in `epoch`, all seen (unless `seen` is false). */
function ledger(): ChannelLedger {
  const l = new ChannelLedger();
  l.start = { offset: 0, epoch: 'A' };
  for (let k = 1; k <= 3; k++) {
    l.publications.push({ gen: 0, k, offset: k, epoch: 'A' });
    l.observed.push({ kind: 'pub', offset: k, epoch: 'A', g: 0, k });
  }
  return l;
}

const check = (l: ChannelLedger, finalGen = 0, restarts = 0) => checkChannel(l, finalGen, restarts).violations.join('\n');

describe('the channel invariant checker', () => {
  it('passes a clean run, and one gap per restart into the new epoch', () => {
    expect(check(ledger())).toBe('');
    const l = ledger();
    l.observed.push({ kind: 'gap', from: 1, to: 0, epoch: 'B', reason: 'epoch' });
    l.publications.push({ gen: 1, k: 1, offset: 1, epoch: 'B' });
    l.observed.push({ kind: 'pub', offset: 1, epoch: 'B', g: 1, k: 1 });
    expect(check(l, 1, 1)).toBe('');
  });

  it('finds a silent hole, a repeat, a new epoch without a gap, a forged publication and a missing one', () => {
    const hole = ledger();
    (hole.observed as unknown[]).splice(1, 1);
    expect(check(hole)).toMatch(/A\/3 delivered when 2 was next \(a silent hole\)/);
    const repeat = ledger();
    repeat.observed.push({ kind: 'pub', offset: 3, epoch: 'A', g: 0, k: 3 });
    expect(check(repeat)).toMatch(/A\/3 delivered again/);
    const noGap = ledger();
    noGap.publications.push({ gen: 1, k: 1, offset: 1, epoch: 'B' });
    noGap.observed.push({ kind: 'pub', offset: 1, epoch: 'B', g: 1, k: 1 });
    expect(check(noGap, 1, 1)).toMatch(/B\/1 of a new epoch without a gap first/);
    const forged = ledger();
    forged.observed.push({ kind: 'pub', offset: 4, epoch: 'A', g: 0, k: 9 });
    expect(check(forged)).toMatch(/A\/4 carried g0\/9, which was not published/);
    const missing = ledger();
    missing.publications.push({ gen: 0, k: 4, offset: 4, epoch: 'A' });
    expect(check(missing)).toMatch(/g0\/4 \(A\/4\) of the last server never arrived/);
    const twice = ledger();
    twice.observed.push({ kind: 'gap', from: 1, to: 0, epoch: 'B', reason: 'epoch' });
    twice.observed.push({ kind: 'gap', from: 1, to: 0, epoch: 'B', reason: 'epoch' });
    expect(check(twice, 1, 2)).toMatch(/a second gap for one epoch/);
  });
});
