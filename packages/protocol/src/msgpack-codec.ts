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

// Pure: a bundle that never uses the codec drops these and the library with them.
const encoder = /* @__PURE__ */ new Encoder({ ignoreUndefined: true, maxDepth: MAX_PAYLOAD_DEPTH + 1 });
// Bin and ext are refused by `skim` first; the limits here are a second fence.
const decoder = /* @__PURE__ */ new Decoder({ maxBinLength: 0, maxExtLength: 0 });
const utf8 = /* @__PURE__ */ new TextEncoder();

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

/**
 * A string of at most 31 ASCII characters as a fixstr, without the encoder: a message id is
 * encoded again at every transmission (`idAt`), so its bytes need not be held while it waits.
 * `undefined` for any other string.
 */
function shortAscii(s: string): Uint8Array | undefined {
  if (s.length > 31) return undefined;
  const out = new Uint8Array(s.length + 1);
  out[0] = 0xa0 | s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return undefined;
    out[i + 1] = c;
  }
  return out;
}

const K = Object.fromEntries(
  ['t', 'seq', 'id', 'ts', 'd', 'r', 'e', 'at', 'ch', 'offset', 'epoch', 'member', 'members'].map((k) => [k, fixstr(k)]),
) as Record<'t' | 'seq' | 'id' | 'ts' | 'd' | 'r' | 'e' | 'at' | 'ch' | 'offset' | 'epoch' | 'member' | 'members', Uint8Array>;
const T = Object.fromEntries(['msg', 'ack', 'acks', 'cack', 'got', 'ping', 'pong', 'pub', 'join', 'leave', 'members'].map((t) => [t, fixstr(t)])) as Record<
  'msg' | 'ack' | 'acks' | 'cack' | 'got' | 'ping' | 'pong' | 'pub' | 'join' | 'leave' | 'members',
  Uint8Array
>;
const MAP = Array.from({ length: 16 }, (_, n) => Uint8Array.of(0x80 | n));

const scratch = /* @__PURE__ */ new DataView(/* @__PURE__ */ new ArrayBuffer(8));
const scratchBytes = /* @__PURE__ */ new Uint8Array(scratch.buffer);

/**
 * Bytes a number takes: the smallest int for a non-negative safe integer, else a float64 (a
 * negative integer, which no frame field holds, goes as a float64 too: still exact). NaN and
 * ±Infinity are written as 0, as the JSON encoder does.
 */
function numSize(n: number): number {
  if (!(n >= 0 && Number.isSafeInteger(n))) return 9;
  return n < 0x80 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x100000000 ? 5 : 9;
}

/** Write `n` (see `numSize`) at `at`; the offset after it. */
function writeNum(out: Uint8Array, at: number, n: number): number {
  if (!Number.isFinite(n)) n = 0;
  if (!(n >= 0 && Number.isSafeInteger(n))) {
    scratch.setFloat64(0, n);
    out[at] = 0xcb;
    out.set(scratchBytes, at + 1);
    return at + 9;
  }
  if (n < 0x80) {
    out[at] = n;
    return at + 1;
  }
  if (n < 0x100) {
    out[at] = 0xcc;
    out[at + 1] = n;
    return at + 2;
  }
  if (n < 0x10000) {
    out[at] = 0xcd;
    out[at + 1] = n >>> 8;
    out[at + 2] = n & 0xff;
    return at + 3;
  }
  if (n < 0x100000000) {
    out[at] = 0xce;
    scratch.setUint32(0, n);
    out.set(scratchBytes.subarray(0, 4), at + 1);
    return at + 5;
  }
  out[at] = 0xcf;
  scratch.setUint32(0, Math.floor(n / 0x100000000));
  scratch.setUint32(4, n >>> 0);
  out.set(scratchBytes, at + 1);
  return at + 9;
}

/** One unit from its parts (bytes as they are, numbers written as `writeNum` does), in one allocation. */
function frame(parts: ReadonlyArray<Uint8Array | number>): Uint8Array {
  let length = 0;
  for (const p of parts) length += typeof p === 'number' ? numSize(p) : p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    if (typeof p === 'number') at = writeNum(out, at, p);
    else {
      out.set(p, at);
      at += p.length;
    }
  }
  return out;
}

/** An array header for `n` entries. */
function arrayHeader(n: number): Uint8Array {
  if (n < 16) return Uint8Array.of(0x90 | n);
  if (n < 0x10000) return Uint8Array.of(0xdc, n >>> 8, n & 0xff);
  return Uint8Array.of(0xdd, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
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
 * model: what JSON would silently turn into something else (a `Date`, binary data, a `toJSON`
 * method, NaN) is a `TypeError` here, as a `BigInt` or a cycle is for both: convert it first.
 */
export const msgpackCodec: Codec<Uint8Array> = {
  name: 'msgpack',
  binary: true,
  value(value: unknown): Uint8Array {
    if (typeof value === 'string') {
      const ascii = shortAscii(value);
      if (ascii !== undefined) return ascii;
    }
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol') throw new TypeError('a payload must be JSON (got undefined, a function or a symbol)');
    let unit: Uint8Array;
    try {
      unit = encoder.encode(value);
    } catch (cause) {
      throw new TypeError(`a payload must be JSON-like (no function, symbol, BigInt or cycle) and nest at most ${MAX_PAYLOAD_DEPTH} levels of arrays and objects`, { cause });
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
  msg: (seq, id, ts, d) => frame([MAP[5]!, K.t, T.msg, K.seq, seq, K.id, id, K.ts, ts, K.d, d]),
  ack: (seq, r) => frame([MAP[3]!, K.t, T.ack, K.seq, seq, K.r, r]),
  ackError: (seq, e) => frame([MAP[3]!, K.t, T.ack, K.seq, seq, K.e, e]),
  acks: (seq, r) => frame([MAP[3]!, K.t, T.acks, K.seq, seq, K.r, arrayHeader(r.length), ...r]),
  cack: (seq) => frame([MAP[2]!, K.t, T.cack, K.seq, seq]),
  got: (seq) => frame([MAP[2]!, K.t, T.got, K.seq, seq]),
  ping: (ts) => frame([MAP[2]!, K.t, T.ping, K.ts, ts]),
  pong: (ts, at) => frame([MAP[3]!, K.t, T.pong, K.ts, ts, K.at, at]),
  bye: (code, reason, retryMs) =>
    plain({ t: 'bye', code, reason: reason.length > REASON ? reason.slice(0, REASON) : reason, retryMs: retryMs === undefined ? undefined : finite(retryMs) }),
  sub: (ch, since, win) => plain({ t: 'sub', ch, since: since === undefined ? undefined : { offset: since.offset, epoch: since.epoch }, win }),
  unsub: (ch) => plain({ t: 'unsub', ch }),
  pack: (ch, offset) => plain({ t: 'pack', ch, offset }),
  presence: (ch) => plain({ t: 'presence', ch }),
  subok: (ch, offset, epoch, recovered, win) => plain({ t: 'subok', ch, offset, epoch, recovered, win }),
  suberr: (ch, error) => plain({ t: 'suberr', ch, code: error.code, message: error.message }),
  pub: (ch, offset, epoch, ts, d, id) =>
    id === undefined
      ? frame([MAP[6]!, K.t, T.pub, K.ch, ch, K.offset, offset, K.epoch, epoch, K.ts, ts, K.d, d])
      : frame([MAP[7]!, K.t, T.pub, K.ch, ch, K.offset, offset, K.epoch, epoch, K.id, id, K.ts, ts, K.d, d]),
  gap: (ch, from, to, epoch, reason) => plain({ t: 'gap', ch, from, to, epoch, reason }),
  join: (ch, member) => frame([MAP[3]!, K.t, T.join, K.ch, ch, K.member, member]),
  leave: (ch, member) => frame([MAP[3]!, K.t, T.leave, K.ch, ch, K.member, member]),
  members: (ch, members) => frame([MAP[3]!, K.t, T.members, K.ch, encoder.encode(ch), K.members, arrayHeader(members.length), ...members]),
  batch: (frames) => (frames.length === 1 ? (frames[0] as Uint8Array) : frame([arrayHeader(frames.length), ...frames])),
  size: (unit) => unit.byteLength,
  decode,
};
