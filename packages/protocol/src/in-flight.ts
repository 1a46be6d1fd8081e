import { Fifo } from './fifo.js';
import type { Outgoing } from './outgoing.js';

/**
 * Messages on the wire awaiting their answer, by seq. Seqs are taken one after another, so each
 * message sits at `seq - first` of a `Fifo`: finding one is an index, not a Map lookup. One
 * answered out of order (the client's per-message acks) leaves a hole until those before it are
 * answered too; the head is never a hole, so `oldest` is the oldest seq still awaited — what the
 * window is counted from.
 */
export class InFlight {
  private readonly slots = new Fifo<Outgoing | undefined>();
  /** Seq of the head slot, while there is one. */
  private first = 0;
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
    return this.slots.length === 0 ? undefined : this.first;
  }

  /** `m` was transmitted under the seq that follows the last one added. */
  add(m: Outgoing): void {
    if (this.slots.length === 0) this.first = m.seq;
    this.slots.push(m);
    this.count++;
    this.held += m.bytes;
  }

  get(seq: number): Outgoing | undefined {
    const i = seq - this.first;
    return i >= 0 && i < this.slots.length ? this.slots.at(i) : undefined;
  }

  /** Take out the message of `seq` (answered, or forgotten); `undefined` when none is awaited. */
  take(seq: number): Outgoing | undefined {
    const m = this.get(seq);
    if (m === undefined) return undefined;
    this.slots.set(seq - this.first, undefined);
    this.count--;
    this.held -= m.bytes;
    this.trim();
    return m;
  }

  /** Take out the oldest message when its seq is at most `seq` (a cumulative ack); else `undefined`. */
  takeUpTo(seq: number): Outgoing | undefined {
    while (this.slots.length > 0 && this.first <= seq) {
      const m = this.slots.shift();
      this.first++;
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
    while (this.slots.length > 0 && this.slots.peek() === undefined) {
      this.slots.shift();
      this.first++;
    }
  }

  /** Take out every message, in seq order. */
  drain(): Outgoing[] {
    const all: Outgoing[] = [];
    for (const m of this.slots.drain()) if (m !== undefined) all.push(m);
    this.count = 0;
    this.held = 0;
    return all;
  }
}
