import { Decoder, Encoder } from '@msgpack/msgpack';
import type { Codec } from './codec.js';
import { validateFrame } from './codec.js';
import { CloseCode } from './close-codes.js';
import { MAX_PAYLOAD_DEPTH } from './encoder.js';
import { ProtocolError } from './errors.js';
import type { Frame } from './frames.js';
import { decodeDefaults, type DecodeLimits } from './limits.js';
import { skim, skimFailure } from './msgpack-skim.js';

/**
 * MessagePack in binary WebSocket messages (protocol.md, "Codecs", `msgpack`): a lone frame is
 * one map, a batch one array of maps, with the fields of the JSON frames. Payloads are encoded
 * once by `value()` and frames are written by hand around those bytes (a map header, constant
 * keys, numbers), so a replay or a fan-out never encodes a payload again; `@msgpack/msgpack`
 * encodes the values and decodes the messages, after `skim` has bounded them.
 */

const encoder = new Encoder({ ignoreUndefined: true, maxDepth: MAX_PAYLOAD_DEPTH + 1 });
// Bin and ext are refused by `skim` first; the limits here are a second fence.
const decoder = new Decoder({ maxBinLength: 0, maxExtLength: 0 });
const utf8 = new TextEncoder();

const bad = (message: string): never => {
  throw new ProtocolError(message, CloseCode.BadFrame);
};

/** A short ASCII string (a key or a frame type) as a fixstr, built once. */
function fixstr(s: string): Uint8Array {
  const bytes = utf8.encode(s);
  const out = new Uint8Array(bytes.length + 1);
  out[0] = 0xa0 | bytes.length;
  out.set(bytes, 1);
  return out;
}

const K = Object.fromEntries(
  ['t', 'seq', 'id', 'ts', 'd', 'r', 'e', 'at', 'ch', 'offset', 'epoch', 'member', 'members'].map((k) => [k, fixstr(k)]),
) as Record<'t' | 'seq' | 'id' | 'ts' | 'd' | 'r' | 'e' | 'at' | 'ch' | 'offset' | 'epoch' | 'member' | 'members', Uint8Array>;
const T = Object.fromEntries(['msg', 'ack', 'acks', 'cack', 'ping', 'pong', 'pub', 'join', 'leave', 'members'].map((t) => [t, fixstr(t)])) as Record<
  'msg' | 'ack' | 'acks' | 'cack' | 'ping' | 'pong' | 'pub' | 'join' | 'leave' | 'members',
  Uint8Array
>;
const MAP = Array.from({ length: 16 }, (_, n) => Uint8Array.of(0x80 | n));

const scratch = new DataView(new ArrayBuffer(8));

/** A number as MessagePack: the smallest int for a safe integer, else a float64; NaN and ±Infinity are 0, as in the JSON encoder. */
function num(n: number): Uint8Array {
  if (!Number.isFinite(n)) return Uint8Array.of(0);
  if (Number.isSafeInteger(n) && n >= 0) {
    if (n < 0x80) return Uint8Array.of(n);
    if (n < 0x100) return Uint8Array.of(0xcc, n);
    if (n < 0x10000) return Uint8Array.of(0xcd, n >>> 8, n & 0xff);
    if (n < 0x100000000) return Uint8Array.of(0xce, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
    const hi = Math.floor(n / 0x100000000);
    const lo = n >>> 0;
    return Uint8Array.of(0xcf, hi >>> 24, (hi >>> 16) & 0xff, (hi >>> 8) & 0xff, hi & 0xff, lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff);
  }
  if (Number.isSafeInteger(n)) return encoder.encode(n);
  scratch.setFloat64(0, n);
  const out = new Uint8Array(9);
  out[0] = 0xcb;
  for (let i = 0; i < 8; i++) out[i + 1] = scratch.getUint8(i);
  return out;
}

/** An array header for `n` entries. */
function arrayHeader(n: number): Uint8Array {
  if (n < 16) return Uint8Array.of(0x90 | n);
  if (n < 0x10000) return Uint8Array.of(0xdc, n >>> 8, n & 0xff);
  return Uint8Array.of(0xdd, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

/** One unit from its parts, in one allocation. */
function cat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A frame with no pre-encoded part, from its fields (`undefined` fields are left out, as in JSON). */
const plain = (frame: Record<string, unknown>): Uint8Array => encoder.encode(frame);

const REASON = decodeDefaults.maxStringLength;
const finite = (n: number): number => (Number.isFinite(n) ? n : 0);

/** The message's bytes, whatever the platform hands over (a Node Buffer, a browser ArrayBuffer). */
function bytesOf(message: unknown): Uint8Array {
  if (message instanceof Uint8Array) return message;
  if (message instanceof ArrayBuffer) return new Uint8Array(message);
  return bad(typeof message === 'string' ? 'a text message on a msgpack connection (the msgpack codec is binary only)' : 'a message that is not bytes');
}

/** Decode one binary message into validated frames: bounded by `skim` before `@msgpack/msgpack` builds anything. */
function decode(message: unknown, limits: DecodeLimits = decodeDefaults): Frame[] {
  const b = bytesOf(message);
  if (b.length === 0) bad('an empty message');
  const c = b[0] as number;
  const batch = (c >= 0x90 && c <= 0x9f) || c === 0xdc || c === 0xdd;
  let end: number;
  if (batch) {
    // The batch's own array does not count against its frames (as in JSON), so it nests `maxDepth + 1`.
    const size = c <= 0x9f ? c & 0x0f : c === 0xdc ? 3 : 5;
    if (b.length < size) bad('message is not valid MessagePack (truncated)');
    let n = 0;
    if (c <= 0x9f) n = c & 0x0f;
    else for (let i = 1; i < size; i++) n = n * 256 + (b[i] as number);
    if (n === 0) bad('a batch must hold at least one frame');
    if (n > limits.maxFrames) bad(`a batch holds more than ${limits.maxFrames} frames`);
    end = skim(b, 0, limits.maxDepth + 1);
  } else end = skim(b, 0, limits.maxDepth);
  if (end < 0) bad(skimFailure.startsWith('nested') ? `a frame ${skimFailure.replace(/ \d+ /, ` ${limits.maxDepth} `)}` : `message is not valid MessagePack: ${skimFailure}`);
  if (end !== b.length) bad('message is not valid MessagePack: bytes after its value');
  let value: unknown;
  try {
    value = decoder.decode(b);
  } catch (cause) {
    throw new ProtocolError('message is not valid MessagePack', CloseCode.BadFrame, { cause });
  }
  if (Array.isArray(value)) {
    const frames = new Array<Frame>(value.length);
    for (let i = 0; i < value.length; i++) frames[i] = validateFrame(value[i], limits);
    return frames;
  }
  return [validateFrame(value, limits)];
}

/**
 * The `msgpack` codec: pass it to `createClient` and `createServer` in `codecs` (for example
 * `[msgpackCodec, jsonCodec]`, preferring it and falling back to JSON). It carries the JSON data
 * model: a payload holding a `Date`, binary data, a `Map` or a `BigInt` is a `TypeError` (convert
 * it first), as a `BigInt` is for JSON.
 */
export const msgpackCodec: Codec<Uint8Array> = {
  name: 'msgpack',
  binary: true,
  value(value: unknown): Uint8Array {
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol') throw new TypeError('a payload must be JSON (got undefined, a function or a symbol)');
    let unit: Uint8Array;
    try {
      unit = encoder.encode(value);
    } catch (cause) {
      throw new TypeError(`a payload must be JSON-like and nest at most ${MAX_PAYLOAD_DEPTH} levels of arrays and objects`, { cause });
    }
    if (skim(unit, 0, MAX_PAYLOAD_DEPTH) < 0) {
      throw new TypeError(
        skimFailure.startsWith('nested')
          ? `a payload may nest at most ${MAX_PAYLOAD_DEPTH} levels of arrays and objects`
          : `a payload must be JSON-like for msgpack: ${skimFailure} (a Date or binary data must be converted first)`,
      );
    }
    return unit;
  },
  nestsWithin: (unit, levels) => skim(unit, 0, levels) >= 0,
  msg: (seq, id, ts, d) => cat([MAP[5]!, K.t, T.msg, K.seq, num(seq), K.id, id, K.ts, num(ts), K.d, d]),
  ack: (seq, r) => cat([MAP[3]!, K.t, T.ack, K.seq, num(seq), K.r, r]),
  ackError: (seq, e) => cat([MAP[3]!, K.t, T.ack, K.seq, num(seq), K.e, e]),
  acks: (seq, r) => cat([MAP[3]!, K.t, T.acks, K.seq, num(seq), K.r, arrayHeader(r.length), ...r]),
  cack: (seq) => cat([MAP[2]!, K.t, T.cack, K.seq, num(seq)]),
  ping: (ts) => cat([MAP[2]!, K.t, T.ping, K.ts, num(ts)]),
  pong: (ts, at) => cat([MAP[3]!, K.t, T.pong, K.ts, num(ts), K.at, num(at)]),
  bye: (code, reason, retryMs) =>
    plain({ t: 'bye', code, reason: reason.length > REASON ? reason.slice(0, REASON) : reason, retryMs: retryMs === undefined ? undefined : finite(retryMs) }),
  sub: (ch, since, win) => plain({ t: 'sub', ch, since: since === undefined ? undefined : { offset: since.offset, epoch: since.epoch }, win }),
  unsub: (ch) => plain({ t: 'unsub', ch }),
  pack: (ch, offset) => plain({ t: 'pack', ch, offset }),
  presence: (ch) => plain({ t: 'presence', ch }),
  subok: (ch, offset, epoch, recovered) => plain({ t: 'subok', ch, offset, epoch, recovered }),
  suberr: (ch, error) => plain({ t: 'suberr', ch, code: error.code, message: error.message }),
  pub: (ch, offset, epoch, ts, d, id) =>
    id === undefined
      ? cat([MAP[6]!, K.t, T.pub, K.ch, ch, K.offset, num(offset), K.epoch, epoch, K.ts, num(ts), K.d, d])
      : cat([MAP[7]!, K.t, T.pub, K.ch, ch, K.offset, num(offset), K.epoch, epoch, K.id, id, K.ts, num(ts), K.d, d]),
  gap: (ch, from, to, epoch, reason) => plain({ t: 'gap', ch, from, to, epoch, reason }),
  join: (ch, member) => cat([MAP[3]!, K.t, T.join, K.ch, ch, K.member, member]),
  leave: (ch, member) => cat([MAP[3]!, K.t, T.leave, K.ch, ch, K.member, member]),
  members: (ch, members) => cat([MAP[3]!, K.t, T.members, K.ch, encoder.encode(ch), K.members, arrayHeader(members.length), ...members]),
  batch: (frames) => (frames.length === 1 ? (frames[0] as Uint8Array) : cat([arrayHeader(frames.length), ...frames])),
  size: (unit) => unit.byteLength,
  decode,
};
