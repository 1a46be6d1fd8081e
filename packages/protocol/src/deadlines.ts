import { afterIo, unref } from './timers.js';

/**
 * One timer for all deadlines, however many messages are pending (DESIGN.md: no timer per
 * message). Deadlines are grouped into buckets of `resolutionMs`; a single timer is armed for
 * the earliest bucket, and an expiry fires at most `resolutionMs` late.
 *
 * The timer is never re-armed per item: removing an item leaves it armed (it is unref'd), and
 * when it fires early it only re-arms for the next bucket still holding an item. So a stream of
 * sends that are each acked before the next one (the sequential case) costs no `setTimeout` /
 * `clearTimeout` per message, and items are kept in plain arrays (no Set per bucket).
 */
export interface DeadlineOptions {
  /** Bucket width. @default 10 */
  resolutionMs?: number;
  /** Monotonic clock in ms. @default performance.now */
  now?: () => number;
  /**
   * The items carry their own bookkeeping (they implement `DeadlineSlot`), so the set keeps no
   * Map entry per item. An item may then be in only one such set at a time. @default false
   */
  inline?: boolean;
}

/** What a `Deadlines` with `inline: true` stores on each item. */
export interface DeadlineSlot {
  /** Bucket key of the item's deadline; `undefined` while it has none. */
  deadlineKey: number | undefined;
  /** Position in that bucket. */
  deadlineIndex: number;
}

interface Bucket<T> {
  readonly key: number;
  /** Items in insertion order; removed ones leave `undefined` until the bucket is compacted. */
  items: Array<T | undefined>;
  live: number;
}

/** A bucket is compacted once it is at least this long and three quarters holes. */
const COMPACT_MIN = 64;

export class Deadlines<T> {
  private readonly buckets = new Map<number, Bucket<T>>();
  /** Per-item bookkeeping when the items do not carry it (`inline: false`). */
  private readonly slots: Map<T, DeadlineSlot> | undefined;
  /** Bucket keys in ascending order; may hold keys whose bucket is gone (skipped when reached). */
  private keys: number[] = [];
  /** The bucket that received the last new key: kept even when empty, the next add likely lands in it. */
  private tail: Bucket<T> | undefined;
  private count = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private armedFor = Infinity;
  /** The timer fired and `sweep` waits for the I/O ahead of it. */
  private sweepQueued = false;
  private readonly resolution: number;
  readonly now: () => number;

  constructor(
    private readonly onExpire: (item: T) => void,
    options: DeadlineOptions = {},
  ) {
    this.resolution = options.resolutionMs ?? 10;
    this.now = options.now ?? (() => performance.now());
    this.slots = options.inline === true ? undefined : new Map();
  }

  get size(): number {
    return this.count;
  }

  /** Expire `item` at monotonic time `at` (replaces an earlier deadline for it). */
  add(item: T, at: number): void {
    let slot = this.slotOf(item);
    if (slot !== undefined && slot.deadlineKey !== undefined) {
      this.remove(item, slot);
      slot = this.slotOf(item);
    }
    const key = Math.ceil(at / this.resolution) * this.resolution;
    let bucket = this.tail !== undefined && this.tail.key === key ? this.tail : this.buckets.get(key);
    if (bucket === undefined) {
      bucket = { key, items: [], live: 0 };
      this.buckets.set(key, bucket);
      this.insertKey(key);
      if (this.tail === undefined || key >= this.tail.key) this.retireTail(bucket);
    }
    if (slot === undefined) {
      slot = { deadlineKey: undefined, deadlineIndex: 0 };
      (this.slots as Map<T, DeadlineSlot>).set(item, slot);
    }
    slot.deadlineKey = key;
    slot.deadlineIndex = bucket.items.length;
    bucket.items.push(item);
    bucket.live++;
    this.count++;
    if (key < this.armedFor) this.arm(key);
  }

  delete(item: T): void {
    const slot = this.slotOf(item);
    if (slot !== undefined && slot.deadlineKey !== undefined) this.remove(item, slot);
  }

  clear(): void {
    if (this.slots === undefined) {
      for (const bucket of this.buckets.values()) {
        for (const item of bucket.items) if (item !== undefined) (item as unknown as DeadlineSlot).deadlineKey = undefined;
      }
    } else this.slots.clear();
    this.buckets.clear();
    this.keys = [];
    this.tail = undefined;
    this.count = 0;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  private slotOf(item: T): DeadlineSlot | undefined {
    return this.slots === undefined ? (item as unknown as DeadlineSlot) : this.slots.get(item);
  }

  private remove(item: T, slot: DeadlineSlot): void {
    const bucket = this.buckets.get(slot.deadlineKey as number);
    slot.deadlineKey = undefined;
    this.slots?.delete(item);
    this.count--;
    if (bucket === undefined) return;
    const items = bucket.items;
    const i = slot.deadlineIndex;
    items[i] = undefined;
    // Removed from the end (the usual case for the newest item): shorten instead of leaving holes,
    // never to 0 (V8 would drop the backing store, and the next push would allocate it again).
    if (i === items.length - 1 && i > 0) {
      let n = i;
      while (n > 1 && items[n - 1] === undefined) n--;
      items.length = n;
    }
    if (--bucket.live === 0) {
      // The timer is left armed: when it fires it skips the keys whose bucket is gone.
      if (bucket !== this.tail) this.buckets.delete(bucket.key);
    } else if (items.length >= COMPACT_MIN && bucket.live * 4 <= items.length) {
      this.compact(bucket);
    }
  }

  /** Drop the holes of a bucket, keeping the items in order. */
  private compact(bucket: Bucket<T>): void {
    const kept: T[] = [];
    for (const item of bucket.items) {
      if (item === undefined) continue;
      (this.slotOf(item) as DeadlineSlot).deadlineIndex = kept.length;
      kept.push(item);
    }
    bucket.items = kept;
  }

  /** `next` becomes the tail; the old tail is forgotten if it is empty. */
  private retireTail(next: Bucket<T>): void {
    const old = this.tail;
    this.tail = next;
    if (old !== undefined && old.live === 0 && this.buckets.get(old.key) === old) this.buckets.delete(old.key);
  }

  private insertKey(key: number): void {
    const keys = this.keys;
    if (keys.length === 0 || key > (keys[keys.length - 1] as number)) {
      keys.push(key);
      return;
    }
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((keys[mid] as number) < key) lo = mid + 1;
      else hi = mid;
    }
    keys.splice(lo, 0, key);
  }

  private arm(key: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.armedFor = key;
    // A pending deadline must not keep a process alive on its own.
    this.timer = unref(setTimeout(this.fire, Math.max(0, key - this.now())));
  }

  /**
   * The timer does not expire anything itself: the verdict waits until the I/O already waiting
   * has been read, as the heartbeats' does. After the process was stalled (a long GC, or not
   * scheduled on a busy machine) the timers phase runs before the poll phase, so a deadline
   * would otherwise expire an upgrade request, a `hello` or an ack that arrived in time and sat
   * unread: the fuzz suite saw a connection destroyed by its 150 ms upgrade deadline that way
   * (1006 where the protocol said 4406). Whatever that I/O settles is deleted before `sweep`.
   */
  private readonly fire = (): void => {
    this.timer = undefined;
    this.armedFor = Infinity;
    if (this.sweepQueued) return;
    this.sweepQueued = true;
    afterIo(this.sweep);
  };

  private readonly sweep = (): void => {
    this.sweepQueued = false;
    const now = this.now();
    const keys = this.keys;
    const expired: T[] = [];
    let i = 0;
    while (i < keys.length && (keys[i] as number) <= now) {
      const key = keys[i++] as number;
      const bucket = this.buckets.get(key);
      if (bucket === undefined) continue;
      this.buckets.delete(key);
      if (bucket === this.tail) this.tail = undefined;
      for (const item of bucket.items) {
        if (item === undefined) continue;
        const slot = this.slotOf(item) as DeadlineSlot;
        slot.deadlineKey = undefined;
        this.slots?.delete(item);
        this.count--;
        expired.push(item);
      }
    }
    // Skip buckets emptied by delete() so the timer is armed for a live one.
    while (i < keys.length) {
      const key = keys[i] as number;
      const bucket = this.buckets.get(key);
      if (bucket !== undefined && bucket.live > 0) break;
      i++;
      if (bucket === undefined) continue;
      this.buckets.delete(key);
      if (bucket === this.tail) this.tail = undefined;
    }
    if (i > 0) this.keys = i === keys.length ? [] : keys.slice(i);
    const next = this.keys[0];
    if (next !== undefined) this.arm(next);
    // Callbacks last: they may add or delete deadlines.
    for (const item of expired) this.onExpire(item);
  };
}
