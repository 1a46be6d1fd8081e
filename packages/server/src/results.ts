/**
 * An error outcome, kept apart from successes so a run of successes can be coalesced into one
 * `acks` frame. `e` is the encoded `{ code, message }`.
 */
export interface ErrorOutcome {
  readonly e: string;
}

/** A handled message's outcome, encoded once: the result's JSON text, or an error. */
export type Outcome = string | ErrorOutcome;

/**
 * The bounded result cache that answers retransmitted client messages without calling the
 * handler again (protocol.md, "Sessions and sequence numbers"). Outcomes are evicted oldest
 * first; seqs arrive in increasing order, so a ring of seqs beside a Map is the whole LRU.
 * A client that respects `welcome.win` never has more unacknowledged messages than `capacity`,
 * so it always finds its answer here.
 */
export class ResultCache {
  private readonly outcomes = new Map<number, Outcome>();
  /** Seqs in insertion order; grows up to `capacity`, then wraps. */
  private readonly ring: number[] = [];
  private next = 0;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.outcomes.size;
  }

  set(seq: number, outcome: Outcome): void {
    if (this.ring.length < this.capacity) {
      this.ring.push(seq);
    } else {
      this.outcomes.delete(this.ring[this.next] as number);
      this.ring[this.next] = seq;
      this.next = this.next + 1 === this.capacity ? 0 : this.next + 1;
    }
    this.outcomes.set(seq, outcome);
  }

  get(seq: number): Outcome | undefined {
    return this.outcomes.get(seq);
  }

  clear(): void {
    this.outcomes.clear();
    this.ring.length = 0;
    this.next = 0;
  }
}

/** Encode one `ack` frame from an outcome. */
export function ackFrame(seq: number, outcome: Outcome): string {
  return typeof outcome === 'string' ? `{"t":"ack","seq":${seq},"r":${outcome}}` : `{"t":"ack","seq":${seq},"e":${outcome.e}}`;
}

/** Bounds the client's decoder enforces on `ack.e` (protocol limits: code 1024, message 8 × 1024). */
const MAX_CODE = 1024;
const MAX_MESSAGE = 8 * 1024;

/** What a handler's throw becomes on the wire: its string `code` (else `ERR_HANDLER`) and message, within the decoder's bounds. */
export function errorOutcome(error: unknown): ErrorOutcome {
  let code = 'ERR_HANDLER';
  let message = 'handler failed';
  // A thrown value may be anything, including an object whose getters throw.
  try {
    const raw = (error as { code?: unknown } | null | undefined)?.code;
    if (typeof raw === 'string' && raw.length > 0) code = raw.slice(0, MAX_CODE);
    message = error instanceof Error ? String(error.message) : String(error);
  } catch {
    // keep the defaults
  }
  return { e: JSON.stringify({ code, message: message.slice(0, MAX_MESSAGE) }) };
}

export const evicted: ErrorOutcome = Object.freeze({
  e: JSON.stringify({
    code: 'ERR_RESULT_EVICTED',
    message: 'this message was processed earlier and its result is no longer cached; it was not processed again',
  }),
});
