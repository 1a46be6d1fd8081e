import { describe, expect, it } from 'vitest';
import { Fifo, SeqFifo } from '../src/internal.js';
import { InFlight } from '../src/in-flight.js';
import type { Outgoing } from '../src/outgoing.js';

describe('Fifo', () => {
  it('shifts in order across compactions and retains live items', () => {
    const q = new Fifo<number>();
    for (let i = 0; i < 5_000; i++) q.push(i);
    for (let i = 0; i < 3_000; i++) expect(q.shift()).toBe(i);
    expect(q.length).toBe(2_000);
    expect(q.at(1)).toBe(3_001);
    q.retain((n) => n % 2 === 0);
    expect(q.length).toBe(1_000);
    expect(q.drain().slice(0, 3)).toEqual([3_000, 3_002, 3_004]);
    expect(q.shift()).toBeUndefined();
  });

  it('empties and fills again, small or large', () => {
    const q = new Fifo<number>();
    for (const n of [1, 100, 3]) {
      for (let i = 0; i < n; i++) q.push(i);
      for (let i = 0; i < n; i++) expect(q.shift()).toBe(i);
      expect([q.length, q.peek(), q.shift()]).toEqual([0, undefined, undefined]);
    }
    q.push(7);
    expect(q.drain()).toEqual([7]);
    expect(q.length).toBe(0);
  });

  it('prepends in order ahead of what is left', () => {
    const q = new Fifo<string>();
    for (const s of ['a', 'b', 'c']) q.push(s);
    q.shift();
    q.prepend(['x', 'y']);
    expect(q.drain()).toEqual(['x', 'y', 'b', 'c']);
  });
});

describe('InFlight', () => {
  const msg = (seq: number) => ({ seq }) as Outgoing;

  it('finds messages by seq, leaves holes for out-of-order answers, and keeps the oldest awaited at the head', () => {
    const f = new InFlight();
    for (let seq = 5; seq <= 9; seq++) f.add(msg(seq));
    expect([f.size, f.oldest]).toEqual([5, 5]);
    expect(f.take(7)?.seq).toBe(7);
    expect(f.take(7)).toBeUndefined(); // a duplicate answer
    expect(f.get(4)).toBeUndefined();
    expect(f.get(10)).toBeUndefined();
    expect(f.take(5)?.seq).toBe(5);
    expect(f.oldest).toBe(6);
    expect(f.take(6)?.seq).toBe(6);
    expect(f.oldest).toBe(8); // the hole at 7 went with the head
    expect(f.drain().map((m) => m.seq)).toEqual([8, 9]);
    expect([f.size, f.oldest]).toEqual([0, undefined]);
    f.add(msg(1));
    expect(f.oldest).toBe(1);
  });

  it('takes the oldest messages up to a cumulative mark', () => {
    const f = new InFlight();
    for (let seq = 1; seq <= 4; seq++) f.add(msg(seq));
    const taken: number[] = [];
    for (let m = f.takeUpTo(3); m !== undefined; m = f.takeUpTo(3)) taken.push(m.seq);
    expect(taken).toEqual([1, 2, 3]);
    expect([f.size, f.oldest]).toEqual([1, 4]);
  });
});

describe('SeqFifo', () => {
  it('finds items by seq, keeps holes for the seqs it skips, and moves its first seq as it shifts', () => {
    const q = new SeqFifo<string>();
    expect([q.length, q.get(0), q.shift()]).toEqual([0, undefined, undefined]);
    q.put(10, 'a');
    q.put(11, 'b');
    q.put(14, 'e');
    expect([q.first, q.end, q.length]).toEqual([10, 15, 5]);
    expect([q.get(9), q.get(10), q.get(12), q.get(14), q.get(15)]).toEqual([undefined, 'a', undefined, 'e', undefined]);
    q.clearAt(11);
    expect(q.get(11)).toBeUndefined();
    expect([q.shift(), q.shift(), q.first, q.peek()]).toEqual(['a', undefined, 12, undefined]);
    expect(q.drain()).toEqual(['e']);
    expect(q.length).toBe(0);
    q.put(100, 'z');
    expect([q.first, q.get(100)]).toEqual([100, 'z']);
  });
});
