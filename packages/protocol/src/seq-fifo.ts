import { Fifo } from './fifo.js';

/**
 * Items by sequence number, in increasing seq order: each sits at `seq - first` of a `Fifo`, so
 * finding one is an index, not a Map lookup, and each costs one slot. A seq without an item is a
 * hole (`undefined`). The client's messages in flight (`InFlight`) and the server's result cache
 * (`ResultCache`) are both this.
 */
export class SeqFifo<T> {
  private readonly slots = new Fifo<T | undefined>();
  /** Seq of the head slot, while there is one. */
  private head = 0;

  /** Slots held, holes included: the span of seqs from `first` on. */
  get length(): number {
    return this.slots.length;
  }

  /** Seq of the head slot; meaningless while `length` is 0. */
  get first(): number {
    return this.head;
  }

  /** One past the last seq held. */
  get end(): number {
    return this.head + this.slots.length;
  }

  /** Put `item` at `seq`, which is at or past `end` (or anything, when empty); the seqs it skips are holes. */
  put(seq: number, item: T | undefined): void {
    const slots = this.slots;
    if (slots.length === 0) this.head = seq;
    for (let s = this.head + slots.length; s < seq; s++) slots.push(undefined);
    slots.push(item);
  }

  get(seq: number): T | undefined {
    const i = seq - this.head;
    return i >= 0 && i < this.slots.length ? this.slots.at(i) : undefined;
  }

  /** Make the slot of `seq` (held) a hole. */
  clearAt(seq: number): void {
    this.slots.set(seq - this.head, undefined);
  }

  /** The head slot's item (or hole). */
  peek(): T | undefined {
    return this.slots.peek();
  }

  /** Take out the head slot: its item, or `undefined` for a hole or when empty. */
  shift(): T | undefined {
    if (this.slots.length === 0) return undefined;
    this.head++;
    return this.slots.shift();
  }

  clear(): void {
    this.slots.clear();
  }

  /** Take out every item, in seq order, holes left out. */
  drain(): T[] {
    const all: T[] = [];
    for (const item of this.slots.drain()) if (item !== undefined) all.push(item);
    return all;
  }
}
