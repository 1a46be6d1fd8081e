import { describe, expect, it, vi } from 'vitest';
import { manualClock } from '@lifeline/test-kit';
import { Deadlines, type DeadlineSlot } from '../src/internal.js';

describe('Deadlines', () => {
  it('expires items whose time has come, in deadline order, with one timer', async () => {
    const c = manualClock(1000); // the Deadlines timer still runs for real, at 0 ms delays
    const expired: string[] = [];
    const done = new Promise<void>((resolve) => {
      const d = new Deadlines<string>(
        (item) => {
          expired.push(item);
          if (expired.length === 2) resolve();
        },
        { now: c.now, resolutionMs: 10 },
      );
      d.add('late', 1050);
      d.add('early', 1020);
      d.add('never', 5000);
      c.set(1060);
    });
    await done;
    expect(expired).toEqual(['early', 'late']);
  });

  it('delete prevents expiry', async () => {
    const c = manualClock(1000); // the Deadlines timer still runs for real, at 0 ms delays
    const expired: string[] = [];
    await new Promise<void>((resolve) => {
      const d = new Deadlines<string>((i) => {
        expired.push(i);
        if (i === 'b') resolve();
      }, { now: c.now });
      d.add('a', 1010);
      d.delete('a');
      expect(d.size).toBe(0);
      d.add('b', 1020);
      c.set(1020);
    });
    expect(expired).toEqual(['b']);
  });

  it('re-adding an item replaces its deadline', async () => {
    const c = manualClock(1000); // the Deadlines timer still runs for real, at 0 ms delays
    const expired: number[] = [];
    await new Promise<void>((resolve) => {
      const d = new Deadlines<string>(() => {
        expired.push(c.now());
        resolve();
      }, { now: c.now });
      d.add('x', 1010);
      d.add('x', 1030);
      expect(d.size).toBe(1);
      c.set(1030);
    });
    expect(expired).toEqual([1030]);
  });

  it('callbacks may add new deadlines while expiring', async () => {
    const c = manualClock(1000); // the Deadlines timer still runs for real, at 0 ms delays
    const seen: string[] = [];
    await new Promise<void>((resolve) => {
      const d = new Deadlines<string>((item) => {
        seen.push(item);
        if (item === 'first') d.add('second', c.now());
        else resolve();
      }, { now: c.now });
      d.add('first', 1010);
      c.set(1100);
    });
    expect(seen).toEqual(['first', 'second']);
  });

  it('arms no timer per item: a stream of add/delete pairs costs one setTimeout', () => {
    const spy = vi.spyOn(globalThis, 'setTimeout');
    try {
      const c = manualClock(1000); // the Deadlines timer still runs for real, at 0 ms delays
      const d = new Deadlines<string>(() => {}, { now: c.now });
      for (let i = 0; i < 100; i++) {
        d.add(`m${i}`, c.now() + 30_000);
        d.delete(`m${i}`);
        c.set(c.now() + 1);
      }
      expect(spy).toHaveBeenCalledTimes(1);
      expect(d.size).toBe(0);
      d.clear();
    } finally {
      spy.mockRestore();
    }
  });

  it('keeps its bookkeeping on the items themselves with inline: true', async () => {
    type Item = DeadlineSlot & { readonly name: string };
    const item = (name: string): Item => ({ name, deadlineKey: undefined, deadlineIndex: 0 });
    const c = manualClock(1000); // the Deadlines timer still runs for real, at 0 ms delays
    const [a, b, x] = [item('a'), item('b'), item('x')];
    const expired: string[] = [];
    await new Promise<void>((resolve) => {
      const d = new Deadlines<Item>(
        (i) => {
          expired.push(i.name);
          if (i === b) resolve();
        },
        { now: c.now, inline: true },
      );
      d.add(a, 1010);
      d.add(x, 1010);
      d.add(b, 1020);
      d.delete(x);
      expect(x.deadlineKey).toBeUndefined();
      expect(d.size).toBe(2);
      c.set(1020);
    });
    expect(expired).toEqual(['a', 'b']);
    expect(a.deadlineKey).toBeUndefined();
  });
});
