import type { Outgoing } from './outgoing.js';
import { SeqFifo } from './seq-fifo.js';

/**
 * Messages on the wire awaiting their answer, by seq (a `SeqFifo`: finding one is an index, not a
 * Map lookup). One answered out of order (the client's per-message acks) leaves a hole until those
 * before it are answered too; the head is never a hole, so `oldest` is the oldest seq still
 * awaited — what the window is counted from.
 */
export class InFlight {
  private readonly slots = new SeqFifo<Outgoing>();
  private count = 0;
  private held = 0;

  /** Messages awaiting their answer (zombies included). */
  get size(): number {
    return this.count;
  }

  /** Payload units they hold (`Outgoing.bytes`, zombies included: they are kept until answered too). */
  get bytes(): number {
    return this.held;
  }

  /** The oldest seq still awaited; `undefined` when none is. */
  get oldest(): number | undefined {
    return this.slots.length === 0 ? undefined : this.slots.first;
  }

  /** `m` was transmitted under the seq that follows the last one added. */
  add(m: Outgoing): void {
    this.slots.put(m.seq, m);
    this.count++;
    this.held += m.bytes;
  }

  get(seq: number): Outgoing | undefined {
    return this.slots.get(seq);
  }

  /** Take out the message of `seq` (answered, or forgotten); `undefined` when none is awaited. */
  take(seq: number): Outgoing | undefined {
    const m = this.slots.get(seq);
    if (m === undefined) return undefined;
    this.slots.clearAt(seq);
    this.count--;
    this.held -= m.bytes;
    this.trim();
    return m;
  }

  /** Take out the oldest message when its seq is at most `seq` (a cumulative ack); else `undefined`. */
  takeUpTo(seq: number): Outgoing | undefined {
    while (this.slots.length > 0 && this.slots.first <= seq) {
      const m = this.slots.shift();
      if (m !== undefined) {
        this.count--;
        this.held -= m.bytes;
        this.trim();
        return m;
      }
    }
    return undefined;
  }

  /** Drop the holes at the head, so it holds the oldest message awaited. */
  private trim(): void {
    while (this.slots.length > 0 && this.slots.peek() === undefined) this.slots.shift();
  }

  /** Take out every message, in seq order. */
  drain(): Outgoing[] {
    const all = this.slots.drain();
    this.count = 0;
    this.held = 0;
    return all;
  }
}
