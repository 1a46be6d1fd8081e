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
 * One `send()` (client) or `session.send()` (server), from the call to its answer. A class so
 * every message has the same shape. It keeps the payload's JSON, not the encoded frame: a
 * retransmission rebuilds the envelope (same seq, id, ts and payload bytes), so a message waiting
 * for its answer costs its payload and little more.
 *
 * V8 gives a number field that ever held a non-integer (or an integer past 2^31) a heap number
 * box of its own in every instance, 16 bytes each, set or not. So the time fields start out
 * `undefined` (such a field holds any value as is, no box), the wall clock is stored relative to
 * `WALL_BASE` (a small integer), and the monotonic times only plugins read (`queuedAt`,
 * `sentAt`) are left unset when there are none.
 */
export class Outgoing implements DeadlineSlot {
  /** Taken at each transmission under a new sequence; 0 until then. */
  seq = 0;
  /** Wall clock at first transmission (`msg.ts`) minus `WALL_BASE`; unset until then. */
  ts: number | undefined = undefined;
  /** Monotonic time of first transmission (unset without plugins). */
  sentAt: number | undefined = undefined;
  /** Left this machine at least once: `maybeDelivered`. */
  transmitted = false;
  stage: Stage = WAITING;
  onAbort: (() => void) | undefined = undefined;
  deadlineKey: number | undefined = undefined;
  deadlineIndex = 0;
  resolve: (value: Json) => void = unset;
  reject: (error: Error) => void = unset;
  /** The `send()` promise, kept only where a failure must never be an unhandled rejection. */
  promise: Promise<Json> | undefined = undefined;

  constructor(
    /** The queue it belongs to: one `Deadlines` may serve many queues (the server's sessions). */
    readonly queue: SendQueue,
    readonly id: string,
    /** `id` as JSON when it needs escaping; `undefined` when quoting it is enough. */
    readonly idJson: string | undefined,
    readonly dataJson: string,
    readonly timeoutMs: number,
    /** Monotonic time of the `send()` call (unset without plugins). */
    readonly queuedAt: number | undefined,
    readonly signal: AbortSignal | undefined,
  ) {}

  get live(): boolean {
    return this.stage !== SETTLED;
  }

  /**
   * The `msg` frame for the current transmission, in `codec`; `d` is the payload as that codec
   * encoded it (by default the one `value()` gave at `send()`).
   */
  encode<W = string>(codec: FrameEncoder<W> = jsonEncoder as unknown as FrameEncoder<W>, d: W = this.dataJson as W): W {
    // The JSON writer takes the id as JSON text, which for an id that needs no escaping is the
    // id quoted: no `value()` call per transmission.
    const id = (codec.msg as unknown) === jsonEncoder.msg ? ((this.idJson ?? `"${this.id}"`) as W) : codec.value(this.id);
    return codec.msg(this.seq, id, WALL_BASE + (this.ts as number), d);
  }

  /** Record the first transmission (`msg.ts` from `wall`, `sentAt` from `at` when plugins listen). */
  firstSent(wall: number, at: number | undefined): void {
    this.transmitted = true;
    this.ts = wall - WALL_BASE;
    if (at !== undefined) this.sentAt = at;
  }
}

/** JSON for a caller's id, or `undefined` when it needs no escaping (quoting it is its JSON). */
export function idJsonOf(id: string): string | undefined {
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || c > 0x7e) return jsonEncoder.value(id);
  }
  return undefined;
}

/** `{"t":"msg","seq":,"id":,"ts":,"d":}` plus digits: an upper bound on a frame's envelope. */
const ENVELOPE = 64;

/**
 * The size in bytes of a message's `msg` frame when it exceeds `max`, else 0. Exact UTF-8 only
 * near the limit: far below it, three bytes per UTF-16 unit is bound enough.
 */
export function frameOversize(dataJson: string, id: string, idJson: string | undefined, max: number): number {
  const idChars = idJson === undefined ? id.length + 2 : idJson.length;
  if ((dataJson.length + idChars + ENVELOPE) * 3 <= max) return 0;
  const bytes = utf8Length(dataJson) + (idJson === undefined ? utf8Length(id) + 2 : utf8Length(idJson)) + ENVELOPE;
  return bytes > max ? bytes : 0;
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
