import type { ChannelLedger } from './ledger.js';

/**
 * Guarantee 9, checked on what the chaos channel's subscriber saw: every publication after the
 * subscribe point once, in offset order, or one gap naming what is missing before anything newer
 * (a new epoch after a restart with the memory engine); never a silent hole, a repeat, or a
 * publication nobody made. Every publication of the last server, which the run waits for, arrived.
 */
export function checkChannel(ledger: ChannelLedger, finalGen: number, restarts: number): { violations: string[]; deliveries: number; gaps: number } {
  const v: string[] = [];
  const byKey = new Map<string, { gen: number; k: number }>();
  for (const p of ledger.publications) if (p.offset !== undefined) byKey.set(`${p.epoch}/${p.offset}`, { gen: p.gen, k: p.k });
  const start = ledger.start;
  if (start === undefined) return { violations: ['the chaos subscription never became ready'], deliveries: 0, gaps: 0 };
  let epoch = start.epoch;
  let next = start.offset + 1;
  let deliveries = 0;
  let gaps = 0;
  let lastWasGap = false;
  const seen = new Set<string>();
  /** Offsets a gap said will not come, per epoch. */
  const skipped: Array<{ epoch: string; from: number; to: number }> = [];
  for (const o of ledger.observed) {
    if (o.kind === 'gap') {
      gaps++;
      // Two restarts with nothing published between them make two gaps in a row, one per epoch.
      if (lastWasGap && o.epoch === epoch) v.push(`channel: a second gap for one epoch (${o.from}..${o.to} of ${o.epoch})`);
      lastWasGap = true;
      if (o.epoch === epoch) {
        if (o.from !== next) v.push(`channel: gap ${o.from}..${o.to} when ${next} was next in ${epoch}`);
        v.push(`channel: gap ${o.from}..${o.to} (${o.reason}) in the same epoch although the history holds everything`);
      } else if (o.reason !== 'epoch') {
        v.push(`channel: gap into a new epoch with reason ${o.reason}`);
      }
      skipped.push({ epoch: o.epoch, from: o.from, to: o.to });
      epoch = o.epoch;
      next = o.to + 1;
      continue;
    }
    lastWasGap = false;
    deliveries++;
    const key = `${o.epoch}/${o.offset}`;
    if (seen.has(key)) v.push(`channel: ${key} delivered again`);
    seen.add(key);
    if (o.epoch !== epoch) v.push(`channel: ${key} of a new epoch without a gap first (was in ${epoch})`);
    else if (o.offset !== next) v.push(`channel: ${key} delivered when ${next} was next (${o.offset < next ? 'a repeat' : 'a silent hole'})`);
    const made = byKey.get(key);
    if (made === undefined || made.gen !== o.g || made.k !== o.k) v.push(`channel: ${key} carried g${o.g}/${o.k}, which was not published there`);
    epoch = o.epoch;
    next = o.offset + 1;
  }
  if (gaps > restarts) v.push(`channel: ${gaps} gaps for ${restarts} server restarts`);
  for (const p of ledger.publications) {
    if (p.gen !== finalGen || p.offset === undefined) continue;
    const key = `${p.epoch}/${p.offset}`;
    const inGap = skipped.some((s) => s.epoch === p.epoch && p.offset! >= s.from && p.offset! <= s.to);
    if (!seen.has(key) && !inGap) v.push(`channel: g${p.gen}/${p.k} (${key}) of the last server never arrived`);
  }
  return { violations: v, deliveries, gaps };
}
