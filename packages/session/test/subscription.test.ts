import { describe, expect, it } from 'vitest';
import type { GapFrame, PubFrame, StreamPosition } from '@lifeline/protocol';
import { Subscription, type SubscriptionHost } from '../src/subscription.js';

/** A subscription driven by hand: what it asks its host for is recorded, frames are fed to it. */
function harness(options: ConstructorParameters<typeof Subscription>[2] = {}) {
  const log = { subs: [] as Array<{ since: StreamPosition | undefined; win: number }>, unsubs: 0, presence: 0, packDue: 0, urgent: [] as number[], ended: 0 };
  const host: SubscriptionHost = {
    isOpen: () => true,
    sendSub: (_s, since, win) => log.subs.push({ since, win }),
    sendUnsub: () => log.unsubs++,
    sendPresence: () => log.presence++,
    packDue: (s, urgent) => {
      log.packDue++;
      if (urgent) log.urgent.push(s.position?.offset ?? -1);
    },
    ended: () => log.ended++,
    retryDelay: () => 1,
    listenerError: (e) => {
      throw e;
    },
  };
  const sub = new Subscription(host, 'ch', options);
  sub.connected();
  return { sub, log };
}

const pub = (offset: number, epoch = 'A', d: unknown = offset): PubFrame => ({ t: 'pub', ch: 'ch', offset, epoch, ts: 1, d: d as never });
const gap = (from: number, to: number, epoch = 'A'): GapFrame => ({ t: 'gap', ch: 'ch', from, to, epoch, reason: 'evicted' });

describe('Subscription', () => {
  it('drops what it already has (same epoch), ignores frames before its subok, and packs cumulatively', () => {
    const { sub, log } = harness();
    const seen: number[] = [];
    sub.on('publication', (_d, m) => seen.push(m.offset));
    sub.pub(pub(1)); // before subok: not for this subscription
    sub.subok({ t: 'subok', ch: 'ch', offset: 0, epoch: 'A' });
    for (const o of [1, 2, 2, 1, 3]) sub.pub(pub(o));
    expect(seen).toEqual([1, 2, 3]);
    expect(sub.position).toEqual({ offset: 3, epoch: 'A' });
    expect(sub.takePack()).toBe(3);
    expect(sub.takePack()).toBeUndefined(); // nothing new taken: no second pack
    expect(log.packDue).toBe(3);
  });

  it('asks for its pack at once only when half the window is taken unannounced, or on a new epoch', () => {
    const { sub, log } = harness({ window: 8 });
    sub.on('publication', () => {});
    sub.subok({ t: 'subok', ch: 'ch', offset: 0, epoch: 'A' });
    for (let o = 1; o <= 3; o++) sub.pub(pub(o));
    expect(log.urgent).toEqual([1, 2, 3]); // nothing packed in this epoch yet
    expect(sub.takePack()).toBe(3); // any flush takes what is due
    for (let o = 4; o <= 9; o++) sub.pub(pub(o));
    expect(log.urgent).toEqual([1, 2, 3, 7, 8, 9]); // 4 (half of 8) or more past the last pack
    expect(sub.takePack()).toBe(9);
    sub.pub(pub(10));
    expect(log.urgent).toEqual([1, 2, 3, 7, 8, 9]);
    sub.pub(pub(1, 'B'));
    expect(log.urgent).toEqual([1, 2, 3, 7, 8, 9, 1]);
    expect(log.packDue).toBe(11);
  });

  it('holds for the iterator in order, passes a held gap in its place, and subscribes again from what it received', async () => {
    const { sub, log } = harness({ window: 8 });
    sub.subok({ t: 'subok', ch: 'ch', offset: 0, epoch: 'A' });
    const gaps: number[] = [];
    sub.on('gap', (g) => gaps.push(g.to));
    sub.pub(pub(1));
    sub.gap(gap(2, 5));
    sub.pub(pub(6));
    expect(sub.buffered).toBe(3);
    expect(sub.position).toEqual({ offset: 0, epoch: 'A' }); // nothing taken yet
    expect(gaps).toEqual([]);
    const it = sub.publications();
    expect((await it.next()).value?.meta.offset).toBe(1);
    expect(gaps).toEqual([5]); // the gap is passed once what came before it is taken
    expect(sub.position).toEqual({ offset: 5, epoch: 'A' });
    sub.disconnected();
    sub.connected(); // one publication still held: the window asked for is one smaller
    expect(log.subs.at(-1)).toEqual({ since: { offset: 6, epoch: 'A' }, win: 7 });
    expect((await it.next()).value?.meta.offset).toBe(6);
    await sub.unsubscribe();
    expect(await it.next()).toEqual({ done: true, value: undefined });
  });

  it('over its byte bound it holds nothing more, then unsubscribes and subscribes again from its position', async () => {
    const { sub, log } = harness({ window: 16, maxBufferedBytes: 25 });
    sub.subok({ t: 'subok', ch: 'ch', offset: 0, epoch: 'A' });
    for (let o = 1; o <= 5; o++) sub.pub(pub(o, 'A', 'x'.repeat(8))); // 10 characters each as JSON
    expect(sub.buffered).toBe(2);
    const it = sub.publications();
    expect((await it.next()).value?.meta.offset).toBe(1);
    expect(log.unsubs).toBe(1);
    expect(log.subs.at(-1)?.since).toEqual({ offset: 2, epoch: 'A' });
    sub.pub(pub(3, 'A', 'late')); // still on the way from the old subscription: ignored
    sub.subok({ t: 'subok', ch: 'ch', offset: 5, epoch: 'A' });
    sub.pub(pub(3, 'A', 'x'.repeat(8)));
    const offsets = [(await it.next()).value?.meta.offset, (await it.next()).value?.meta.offset];
    expect(offsets).toEqual([2, 3]);
  });

  it('ready() waits for subok.offset; a refusal rejects it and ends the subscription', async () => {
    const fresh = harness().sub; // from now: caught up at its subok
    fresh.subok({ t: 'subok', ch: 'ch', offset: 7, epoch: 'A' });
    await fresh.ready({ timeoutMs: 1_000 });
    expect(fresh.position).toEqual({ offset: 7, epoch: 'A' });

    const { sub } = harness({ since: { offset: 0, epoch: 'A' } });
    sub.subok({ t: 'subok', ch: 'ch', offset: 2, epoch: 'A' });
    let ready = false;
    const p = sub.ready({ timeoutMs: 1_000 }).then(() => (ready = true));
    sub.on('publication', () => {});
    sub.pub(pub(1));
    await Promise.resolve();
    expect(ready).toBe(false);
    sub.pub(pub(2));
    await p;
    expect(ready).toBe(true);

    const refused = harness().sub;
    refused.suberr({ t: 'suberr', ch: 'ch', code: 'ERR_UNAUTHORIZED', message: 'no' });
    await expect(refused.ready()).rejects.toMatchObject({ name: 'UnauthorizedError' });
    expect(refused.active).toBe(false);
  });
});
