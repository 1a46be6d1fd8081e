import type { DeadlineSlot } from './deadlines.js';
import { jsonEncoder, type FrameEncoder } from './encoder.js';
import type { Json } from './frames.js';
import type { SendQueue } from './send-queue.js';

/** Where a message is in its life (`Outgoing.stage`). */
export const WAITING = 0; // `overflow: 'wait'`: waiting for room in the queue
export const QUEUED = 1; // in the queue, never transmitted, or moved back after a session was lost
export const IN_FLIGHT = 2; // transmitted, awaiting its answer
export const SETTLED = 3; // settled; one still in flight is a zombie holding its window slot until answered
export type Stage = typeof WAITING | typeof QUEUED | typeof IN_FLIGHT | typeof SETTLED;

/** `Outgoing.ts` is kept relative to this, so it stays a small integer (see below). */
const WALL_BASE = Date.now();

const unset = (): void => {};

/**
 * What few messages need: an abort signal, plugin timestamps, the promise kept for its rejection
 * handler, or settle callbacks of their own. Kept apart so a plain `send()` carries none of it.
 */
export interface Rare {
  signal?: AbortSignal | undefined;
  onAbort?: (() => void) | undefined;
  /** Monotonic time of the `send()` call (set only when plugins listen). */
  queuedAt?: number | undefined;
  /** Monotonic time of first transmission (set only when plugins listen). */
  sentAt?: number | undefined;
  /** The `send()` promise, kept only where a failure must never be an unhandled rejection. */
  promise?: Promise<Json> | undefined;
  /** A restored message's own failure callback (`SendQueue.adopt`). */
  reject?: ((error: Error) => void) | undefined;
  /** The `send()`'s own `timeoutMs`, where it is not the queue's `ackTimeoutMs`. */
  timeoutMs?: number | undefined;
  /** The id as the JSON codec encodes it, for an id that needs escaping (`idUnitOf`). */
  idUnit?: unknown;
}

/**
 * One `send()` (client) or `session.send()` (server), from the call to its answer. A class so
 * every message has the same shape. It keeps the payload and the id as the queue's codec encoded
 * them once (`value()`), not the frame: a retransmission rebuilds the envelope with `codec.msg`
 * (same seq, id, ts and payload bytes), so a message waiting for its answer costs its payload
 * and little more.
 *
 * Every field is 8 bytes in every message (issue 14: at most 400 B per message in flight), so
 * what most messages never use sits in `rare` (a `timeoutMs` of their own too, and an id that
 * needs escaping), `transmitted` is read from `ts`, `bytes` is measured again when asked for (a
 * string's length), and only the promise's resolve function is kept: a failure resolves the
 * promise with a rejected one (same error, two microtasks later), which saves the reject
 * function, 56 bytes.
 *
 * V8 gives a number field that ever held a non-integer (or an integer past 2^31) a heap number
 * box of its own in every instance, 16 bytes each, set or not. So the time fields start out
 * `undefined` (such a field holds any value as is, no box), and the wall clock is stored relative
 * to `WALL_BASE` (a small integer).
 */
export class Outgoing implements DeadlineSlot {
  /** Taken at each transmission under a new sequence; 0 until then. */
  seq = 0;
  /** Wall clock at first transmission (`msg.ts`) minus `WALL_BASE`; unset until then. */
  ts: number | undefined = undefined;
  stage: Stage = WAITING;
  deadlineKey: number | undefined = undefined;
  deadlineIndex = 0;
  /** Settles the `send()` promise with a value (or, from `reject`, a rejected promise). */
  resolve: (value: Json | PromiseLike<Json>) => void = unset;
  rare: Rare | undefined;

  constructor(
    /** The queue it belongs to: one `Deadlines` may serve many queues (the server's sessions). */
    readonly queue: SendQueue,
    readonly id: string,
    /** The payload encoded once by the queue's codec (`value()`). */
    readonly data: unknown,
    rare: Rare | undefined,
  ) {
    this.rare = rare;
  }

  /** `data`'s size in the queue codec's units (`size()`): what the queue's byte bounds count. */
  get bytes(): number {
    return this.queue.sizeOf(this.data);
  }

  /** How long it may wait for its answer once queued. */
  get timeoutMs(): number {
    return this.rare?.timeoutMs ?? this.queue.ackTimeoutMs;
  }

  /** Left this machine at least once: `maybeDelivered`. */
  get transmitted(): boolean {
    return this.ts !== undefined;
  }

  get signal(): AbortSignal | undefined {
    return this.rare?.signal;
  }

  get queuedAt(): number | undefined {
    return this.rare?.queuedAt;
  }

  get sentAt(): number | undefined {
    return this.rare?.sentAt;
  }

  /**
   * `id` encoded once by the queue's codec, kept (in `rare`) only for a JSON id that needs
   * escaping; `undefined` otherwise, and the id is encoded at each transmission (`idAt`).
   */
  get idUnit(): unknown {
    return this.rare?.idUnit;
  }

  get promise(): Promise<Json> | undefined {
    return this.rare?.promise;
  }

  /** Fail the `send()`: its own callback if it has one, else the promise resolved with a rejected one. */
  reject(error: Error): void {
    const own = this.rare?.reject;
    if (own !== undefined) own(error);
    else this.resolve(Promise.reject(error));
  }

  get live(): boolean {
    return this.stage !== SETTLED;
  }

  /**
   * The `msg` frame for the current transmission. `d` and `id` default to the units the queue's
   * codec made at `send()`; a client whose session took another codec passes them re-encoded.
   */
  encode(codec: FrameEncoder<unknown>, d: unknown = this.data, id: unknown = this.idUnit ?? idAt(codec, this.id)): unknown {
    return codec.msg(this.seq, id, WALL_BASE + (this.ts as number), d);
  }

  /** Record the first transmission (`msg.ts` from `wall`, `sentAt` from `at` when plugins listen). */
  firstSent(wall: number, at: number | undefined): void {
    const ts = wall - WALL_BASE;
    // Date.now() is past 2^31, so code V8 has not optimized yet gives the difference as a heap
    // number even when it is a small integer: 16 bytes more of a message in flight, and one more
    // object for each scavenge to copy (issue 14). `| 0` makes it a small integer; a fractional
    // clock, or one 24 days past WALL_BASE, is kept as it is.
    this.ts = (ts | 0) === ts ? ts | 0 : ts;
    if (at !== undefined) (this.rare ??= {}).sentAt = at;
  }
}

/**
 * `id` as the codec encodes it, to be kept with the message, or `undefined` when `idAt` builds it
 * at each transmission instead: always for a binary codec, and for a JSON id that needs no
 * escaping (nanoid's alphabet, and most ids callers choose), whose JSON is the id quoted.
 * A MessagePack id kept as its own `Uint8Array` held an ArrayBuffer and a backing store too,
 * about 220 bytes of every message in flight (issue 14, `bench/src/inflight-breakdown.mjs`);
 * encoding 21 characters again costs less than holding them.
 */
export function idUnitOf(codec: FrameEncoder<unknown>, id: string): unknown {
  if (codec.value !== jsonEncoder.value) return undefined;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || c > 0x7e) return codec.value(id);
  }
  return undefined;
}

/** `id` encoded for a frame, when `idUnitOf` kept no unit for it. */
export function idAt(codec: FrameEncoder<unknown>, id: string): unknown {
  return codec.value === jsonEncoder.value ? `"${id}"` : codec.value(id);
}

/** `{"t":"msg","seq":,"id":,"ts":,"d":}` plus digits: an upper bound on a frame's envelope. */
const ENVELOPE = 64;

/**
 * The size in bytes of a `msg` frame carrying these encoded units when it exceeds `max`, else 0.
 * A text codec's sizes are UTF-16 units: exact UTF-8 only near the limit, since far below it
 * three bytes per unit is bound enough. A binary codec's sizes are bytes already.
 */
export function frameOversize(codec: FrameEncoder<unknown>, data: unknown, idUnit: unknown, max: number, id = ''): number {
  // An id without a kept unit is bounded without encoding it: 6 units a character covers JSON's
  // `\uXXXX` escapes and MessagePack's 3 bytes a UTF-16 unit, 5 its quotes or its header.
  const idSize = idUnit === undefined ? 6 * id.length + 5 : codec.size(idUnit);
  if ((codec.size(data) + idSize + ENVELOPE) * 3 <= max) return 0;
  idUnit ??= idAt(codec, id);
  const bytes = byteLength(codec, data) + byteLength(codec, idUnit) + ENVELOPE;
  return bytes > max ? bytes : 0;
}

function byteLength(codec: FrameEncoder<unknown>, unit: unknown): number {
  return typeof unit === 'string' ? utf8Length(unit) : codec.size(unit);
}

/** UTF-8 length of a string, without encoding it. */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c <= 0xdbff) {
      bytes += 2; // a surrogate pair: 4 bytes for 2 code units
      i++;
    } else bytes += 2;
  }
  return bytes;
}
