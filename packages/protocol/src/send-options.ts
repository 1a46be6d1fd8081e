import type { Deadlines } from './deadlines.js';
import type { FrameEncoder } from './encoder.js';
import type { LifelineError } from './errors.js';
import type { Outgoing } from './outgoing.js';
import type { PluginHost } from './plugin.js';

/** Options of one `send()` (client) or `session.send()` (server). */
export interface SendOptions {
  /** Deadline of this send: answered, or rejected with `AckTimeoutError`, by then. @default the `ackTimeoutMs` option */
  timeoutMs?: number;
  /** Aborting rejects with `AbortError` (`maybeDelivered` set) and drops the message. */
  signal?: AbortSignal;
  /** Message id (1–128 characters), kept across retransmissions and session-lost re-sends. @default a random 21-character id (nanoid's alphabet) */
  id?: string;
}

/** A bound in messages and in payload size, in the codec's units (characters of JSON: bytes for ASCII). */
export interface QueueBound {
  readonly messages: number;
  readonly bytes: number;
}

/** Where accepted messages are kept until their outcome is known (the client's durable outbox). */
export interface SendLog {
  /**
   * Keep a message (`data`: the payload as the queue's codec encoded it; JSON text with
   * `jsonEncoder`); the error to refuse its `send()` with when it cannot be kept. A promise (an
   * asynchronous store, IndexedDB): the message is accepted at once but not transmitted, nor
   * anything queued behind it, until the promise settles; one that resolves to an error fails
   * that `send()` with it.
   */
  add(id: string, data: unknown): LifelineError | undefined | PromiseLike<LifelineError | undefined>;
  /** Its outcome is known: forget it. Not called for what is pending when the queue ends. */
  remove(id: string): void;
}

/** What a `SendQueue` is given: its bounds, its policies and its clocks. */
export interface SendQueueOptions {
  /** Names the call in error messages: `send()`, `session.send()`. */
  readonly what: string;
  /**
   * Encodes each payload once (`value()`, its `TypeError` refuses the `send()`) and each `msg`
   * frame at each transmission: the session's codec.
   * @default jsonEncoder
   */
  readonly codec?: FrameEncoder<unknown> | undefined;
  readonly ackTimeoutMs: number;
  /** Window until the first connection announces one. */
  readonly window: number;
  readonly maxQueued: QueueBound;
  /**
   * Payload units in flight at most: a message leaves the queue only while those in flight and
   * it fit, or when none is in flight (so any message the queue took can go). The window bounds
   * the count; this bounds the bytes a peer that never answers makes us hold on the wire side.
   * @default Infinity
   */
  readonly maxInFlightBytes?: number | undefined;
  /** Bound of the senders waiting for room under `overflow: 'wait'` (`Infinity`: only their deadlines bound them). */
  readonly maxWaiting: QueueBound;
  readonly overflow: 'wait' | 'reject';
  /**
   * Retransmit a message settled without its answer (deadline, abort) to fetch that answer: with
   * per-message acks only its own ack frees its window slot (the client); a cumulative ack frees
   * it anyway (the server).
   */
  readonly retransmitSettled: boolean;
  /** Mark every rejection handled: server pushes are often fire-and-forget, and an unhandled rejection ends a Node process. */
  readonly handledRejections: boolean;
  readonly plugins: PluginHost;
  /** Monotonic clock in ms (deadlines, plugin times). */
  readonly now: () => number;
  /** Wall clock in ms since the epoch (`msg.ts`). */
  readonly wallClock: () => number;
  /** A deadline set shared by many queues, whose callback calls `m.queue.expire(m)`; by default the queue has its own. */
  readonly deadlines?: Deadlines<Outgoing> | undefined;
  readonly log?: SendLog | undefined;
}
