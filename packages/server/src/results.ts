import type { Codec } from '@lifeline/protocol';
import { SeqFifo, errorValue } from '@lifeline/protocol/internal';

/**
 * An error outcome, kept apart from successes so a run of successes can be coalesced into one
 * `acks` frame. `e` is `{ code, message }` encoded once in the session's codec.
 */
export class ErrorOutcome {
  constructor(readonly e: unknown) {}
}

/** A handled message's outcome, encoded once in the session's codec: the result's unit (from `value()`), or an error. */
export type Outcome = unknown;

/**
 * The bounded result cache that answers retransmitted client messages without calling the
 * handler again (protocol.md, "Sessions and sequence numbers"). It keeps the outcomes of the last
 * `capacity` seqs, as the window counts them (a span of seqs, not a count of messages), within
 * `maxChars` characters, evicting oldest first. Outcomes are set in increasing seq order, so they
 * sit in a `SeqFifo` (a seq never handled is a hole): one slot per outcome, where a Map beside a
 * FIFO of seqs cost a hash entry and a rehash now and then per message. A client that respects
 * `welcome.win` never awaits a seq the cache has passed, so it finds its answer here unless the
 * results were too large to keep (then `ERR_RESULT_EVICTED`).
 */
export class ResultCache {
  /** Empty until the first outcome: an idle session holds no slots (issue 14: memory per idle session). */
  private readonly slots = new SeqFifo<Outcome>();
  private count = 0;
  private chars = 0;

  constructor(
    /** Measures an outcome in `maxChars` units (the codec's `size`). */
    private readonly codec: Pick<Codec, 'size'>,
    readonly capacity: number,
    readonly maxChars: number = Infinity,
  ) {}

  get size(): number {
    return this.count;
  }

  /** Characters held by the cached outcomes. */
  get heldChars(): number {
    return this.chars;
  }

  /** Keep `outcome` for `seq`, newer than every seq set before (an older one is ignored). */
  set(seq: number, outcome: Outcome): void {
    const slots = this.slots;
    if (slots.length > 0 && seq < slots.end) return;
    // A jump past the whole span leaves nothing of the old one to keep.
    if (slots.length > 0 && seq - slots.end >= this.capacity) this.clear();
    const size = this.sizeOf(outcome);
    // Larger than the whole cache: keeping it would break the bound, evicting everything for it
    // would not help. Its seq stays a hole.
    if (size > this.maxChars) slots.put(seq, undefined);
    else {
      slots.put(seq, outcome);
      this.count++;
      this.chars += size;
    }
    while (slots.length > this.capacity || this.chars > this.maxChars) this.evictOldest();
  }

  get(seq: number): Outcome | undefined {
    return this.slots.get(seq);
  }

  /** Drop every outcome of a seq at or below `seq` (the client's `got`). */
  forgetThrough(seq: number): void {
    const slots = this.slots;
    while (slots.length > 0 && slots.first <= seq) this.evictOldest();
  }

  clear(): void {
    this.slots.clear();
    this.count = 0;
    this.chars = 0;
  }

  /** Units an outcome holds (the result's; the two-field error's). */
  private sizeOf(outcome: Outcome): number {
    return this.codec.size(outcome instanceof ErrorOutcome ? outcome.e : outcome);
  }

  private evictOldest(): void {
    const outcome = this.slots.shift();
    if (outcome === undefined) return;
    this.count--;
    this.chars -= this.sizeOf(outcome);
  }
}

/** Encode one `ack` frame from an outcome. */
export function ackFrame(codec: Codec, seq: number, outcome: Outcome): unknown {
  return outcome instanceof ErrorOutcome ? codec.ackError(seq, outcome.e) : codec.ack(seq, outcome);
}

/** Bounds the client's decoder enforces on `ack.e` (protocol limits: code 1024, message 8 × 1024). */
const MAX_CODE = 1024;
const MAX_MESSAGE = 8 * 1024;

/** What a handler's throw becomes on the wire: its string `code` (else `ERR_HANDLER`) and message, within the decoder's bounds. */
export function errorOutcome(codec: Codec, error: unknown): ErrorOutcome {
  let code = 'ERR_HANDLER';
  let message = 'handler failed';
  // A thrown value may be anything, including an object whose getters throw.
  try {
    const raw = (error as { code?: unknown } | null | undefined)?.code;
    // ERR_RESULT_EVICTED is the server's own answer ("processed once, result gone"); a handler
    // that threw it would make the client believe a failed message had succeeded earlier.
    if (typeof raw === 'string' && raw.length > 0 && raw !== 'ERR_RESULT_EVICTED') code = raw.slice(0, MAX_CODE);
    message = error instanceof Error ? String(error.message) : String(error);
  } catch {
    // keep the defaults
  }
  return new ErrorOutcome(codec.value(errorValue({ code, message: message.slice(0, MAX_MESSAGE) })));
}

/** The answer to a retransmission whose outcome the cache no longer holds (protocol.md, `ERR_RESULT_EVICTED`). */
export function evicted(codec: Codec): ErrorOutcome {
  return new ErrorOutcome(
    codec.value({
      code: 'ERR_RESULT_EVICTED',
      message: 'this message was processed earlier and its result is no longer cached; it was not processed again',
    }),
  );
}
