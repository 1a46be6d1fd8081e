/**
 * An array queue with a moving head: push and shift in O(1) without `Array#shift`'s copying,
 * which matters at tens of thousands of messages a second. The one queue of both sides: the
 * send queue, its waiting list and (through `SeqFifo`) its in-flight list, the client's held
 * messages, the server's handler queue and (through `SeqFifo`) its result cache.
 */
/**
 * A queue that empties with at most this many slots keeps them: a stream of messages each
 * answered before the next (the common case) then costs no new backing store per message, and
 * what a burst grew is still given back.
 */
const KEEP_SLOTS = 64;

/**
 * The backing store of every empty queue that never held an item, never written: a queue gets an
 * array of its own at its first `push`. A server session holds half a dozen queues that an idle
 * one never uses, and an empty array is 32 bytes (issue 14: memory per idle session).
 */
const NONE: Array<never> = [];

export class Fifo<T> {
  private items: Array<T | undefined> = NONE;
  private head = 0;
  /** One past the last item: slots from here on are unused (`undefined`). */
  private tail = 0;

  get length(): number {
    return this.tail - this.head;
  }

  push(item: T): void {
    if (this.items === NONE) this.items = [];
    this.items[this.tail++] = item;
  }

  peek(): T | undefined {
    return this.head < this.tail ? this.items[this.head] : undefined;
  }

  /** The item `i` places behind the head (`i` below `length`). */
  at(i: number): T | undefined {
    return this.items[this.head + i];
  }

  /** Replace the item `i` places behind the head (`i` below `length`). */
  set(i: number, item: T): void {
    this.items[this.head + i] = item;
  }

  shift(): T | undefined {
    if (this.head >= this.tail) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head++;
    if (this.head === this.tail) {
      this.head = this.tail = 0;
      if (this.items.length > KEEP_SLOTS) this.items = NONE;
    } else if (this.head >= 1024 && this.head * 2 >= this.tail) {
      this.items = this.items.slice(this.head, this.tail);
      this.tail -= this.head;
      this.head = 0;
    }
    return item;
  }

  /** Put `items` (in order) ahead of everything. */
  prepend(items: readonly T[]): void {
    if (items.length === 0) return;
    this.reset([...items, ...this.rest()]);
  }

  /** Keep only the items `keep` accepts, in order. */
  retain(keep: (item: T) => boolean): void {
    this.reset(this.rest().filter(keep));
  }

  /** Remove everything. */
  clear(): void {
    this.reset(NONE);
  }

  /** Remove and return everything, in order. */
  drain(): T[] {
    const out = this.rest();
    this.reset(NONE);
    return out;
  }

  private rest(): T[] {
    return this.items.slice(this.head, this.tail) as T[];
  }

  private reset(items: T[]): void {
    this.items = items;
    this.head = 0;
    this.tail = items.length;
  }
}
