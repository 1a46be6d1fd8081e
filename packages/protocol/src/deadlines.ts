/**
 * One timer for all deadlines, however many messages are pending (DESIGN.md: no timer per
 * message). Deadlines are grouped into buckets of `resolutionMs`; a single timer is armed for
 * the earliest bucket, and an expiry fires at most `resolutionMs` late.
 */
export interface DeadlineOptions {
  /** Bucket width. @default 10 */
  resolutionMs?: number;
  /** Monotonic clock in ms. @default performance.now */
  now?: () => number;
}

export class Deadlines<T> {
  private readonly buckets = new Map<number, Set<T>>();
  private readonly keyOf = new Map<T, number>();
  /** Bucket keys in ascending order; may hold keys whose bucket was emptied (skipped when reached). */
  private keys: number[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private armedFor = Infinity;
  private readonly resolution: number;
  readonly now: () => number;

  constructor(
    private readonly onExpire: (item: T) => void,
    options: DeadlineOptions = {},
  ) {
    this.resolution = options.resolutionMs ?? 10;
    this.now = options.now ?? (() => performance.now());
  }

  get size(): number {
    return this.keyOf.size;
  }

  /** Expire `item` at monotonic time `at` (replaces an earlier deadline for it). */
  add(item: T, at: number): void {
    if (this.keyOf.has(item)) this.delete(item);
    const key = Math.ceil(at / this.resolution) * this.resolution;
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = new Set();
      this.buckets.set(key, bucket);
      this.insertKey(key);
    }
    bucket.add(item);
    this.keyOf.set(item, key);
    if (key < this.armedFor) this.arm(key);
  }

  delete(item: T): void {
    const key = this.keyOf.get(item);
    if (key === undefined) return;
    this.keyOf.delete(item);
    const bucket = this.buckets.get(key);
    if (bucket === undefined) return;
    bucket.delete(item);
    if (bucket.size === 0) this.buckets.delete(key);
    if (this.keyOf.size === 0) this.disarm();
  }

  clear(): void {
    this.buckets.clear();
    this.keyOf.clear();
    this.keys = [];
    this.disarm();
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
    this.timer = setTimeout(this.fire, Math.max(0, key - this.now()));
    // A pending deadline must not keep a process alive on its own.
    (this.timer as { unref?: () => void }).unref?.();
  }

  private disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
    this.keys = [];
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = this.now();
    const expired: T[] = [];
    while (this.keys.length > 0 && (this.keys[0] as number) <= now) {
      const key = this.keys.shift() as number;
      const bucket = this.buckets.get(key);
      if (bucket === undefined) continue;
      this.buckets.delete(key);
      for (const item of bucket) {
        this.keyOf.delete(item);
        expired.push(item);
      }
    }
    // Skip buckets emptied by delete() so the timer is armed for a live one.
    while (this.keys.length > 0 && !this.buckets.has(this.keys[0] as number)) this.keys.shift();
    const next = this.keys[0];
    if (next !== undefined) this.arm(next);
    // Callbacks last: they may add or delete deadlines.
    for (const item of expired) this.onExpire(item);
  };
}
