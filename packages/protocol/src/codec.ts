import { ProtocolError } from './errors.js';
import { decodeDefaults, type DecodeLimits } from './limits.js';
import { PROTOCOL_VERSION, type Frame, type Json } from './frames.js';
import { CloseCode } from './close-codes.js';
import { isChannelName, maxChannelNameLength, maxEpochLength, maxGapReasonLength } from './channels.js';
import { nestsWithin } from './depth.js';
import { jsonEncoder, type FrameEncoder, type HandshakeEncoder } from './encoder.js';

/**
 * The codec is the one place that turns frames into WebSocket messages and back: both sides
 * take one per connection and write and read every frame through it (DESIGN.md, wire protocol;
 * protocol.md, "Codecs"). A second codec is one more object of this shape, named in `hello.codecs`.
 */
export interface Codec<W = unknown> extends FrameEncoder<W> {
  /** As offered in `hello.codecs` and chosen in `welcome.codec`: 1–32 characters of `[a-z0-9-]`. */
  readonly name: string;
  /** Whether its messages are WebSocket binary messages (else text). */
  readonly binary: boolean;
  /** Decode one WebSocket message into its frames; throws `ProtocolError` on anything invalid. */
  decode(message: unknown, limits?: DecodeLimits): Frame[];
}

/** What a codec name may be (`hello.codecs`, `welcome.codec`). */
export const CODEC_NAME = /^[a-z0-9-]{1,32}$/;
/** Most names in `hello.codecs`. */
export const MAX_CODECS_OFFERED = 8;

const bad = (message: string): never => {
  throw new ProtocolError(message, CloseCode.BadFrame);
};

/** Whether a message is a batch: its first character after JSON whitespace opens an array. */
function isBatchText(text: string): boolean {
  let i = 0;
  let c = text.charCodeAt(0);
  while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = text.charCodeAt(++i);
  return c === 0x5b;
}

/**
 * Reject a message whose frames nest deeper than `maxDepth` before `JSON.parse` builds it: a
 * deeply nested payload is cheap to send and expensive (or stack-overflowing) for everything
 * that walks it later. A frame's depth counts its own object as level 1; the array of a batch
 * does not count against its frames, because a frame in a batch is processed exactly as if it
 * had come alone (protocol.md, "Transport and framing"), so a batch may nest `maxDepth + 1`.
 */
export function checkDepth(text: string, maxDepth: number): void {
  if (!nestsWithin(text, isBatchText(text) ? maxDepth + 1 : maxDepth)) bad(`a frame nested deeper than ${maxDepth} levels`);
}

const isCodecName = (v: unknown): boolean => typeof v === 'string' && CODEC_NAME.test(v);
const isSeq = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const hasOwn = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

function str(o: Record<string, unknown>, key: string, max: number, t: string): string {
  const v = o[key];
  if (typeof v !== 'string') return bad(`${t}.${key} must be a string`);
  if (v.length > max) return bad(`${t}.${key} longer than ${max}`);
  return v;
}

function seqField(o: Record<string, unknown>, key: string, t: string, min = 1): number {
  const v = o[key];
  if (!isSeq(v) || v < min) return bad(`${t}.${key} must be an integer >= ${min}`);
  return v;
}

function optPositiveInt(o: Record<string, unknown>, key: string, t: string): void {
  if (o[key] !== undefined && !(isSeq(o[key]) && (o[key] as number) >= 1)) bad(`${t}.${key} must be a positive integer`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function channel(o: Record<string, unknown>, t: string): void {
  if (!isChannelName(o.ch)) bad(`${t}.ch must be a channel name (1-${maxChannelNameLength} of A-Z a-z 0-9 _ : . - @ / # =)`);
}

function epoch(o: Record<string, unknown>, key: string, t: string): void {
  if (str(o, key, maxEpochLength, t).length === 0) bad(`${t}.${key} must not be empty`);
}

function member(v: unknown, limits: DecodeLimits, t: string): void {
  if (!isObject(v)) return bad(`${t} must be an object`);
  if (str(v, 'clientId', limits.maxIdLength, t).length === 0) bad(`${t}.clientId must not be empty`);
  if (str(v, 'sessionId', limits.maxStringLength, t).length === 0) bad(`${t}.sessionId must not be empty`);
}

/** The channel frames (protocol v1 additions), or undefined when `t` is none of them. */
function validateChannelFrame(o: Record<string, unknown>, t: string, limits: DecodeLimits): Frame | undefined {
  switch (t) {
    case 'sub':
      channel(o, t);
      if (o.since !== undefined) {
        if (!isObject(o.since)) bad('sub.since must be an object');
        const since = o.since as Record<string, unknown>;
        seqField(since, 'offset', 'sub.since', 0);
        epoch(since, 'epoch', 'sub.since');
      }
      optPositiveInt(o, 'win', t);
      break;
    case 'unsub':
    case 'presence':
      channel(o, t);
      break;
    case 'pack':
      channel(o, t);
      seqField(o, 'offset', t, 0);
      break;
    case 'subok':
      channel(o, t);
      seqField(o, 'offset', t, 0);
      epoch(o, 'epoch', t);
      if (o.recovered !== undefined && typeof o.recovered !== 'boolean') bad('subok.recovered must be a boolean');
      optPositiveInt(o, 'win', t);
      break;
    case 'suberr':
      channel(o, t);
      str(o, 'code', limits.maxStringLength, t);
      str(o, 'message', limits.maxStringLength * 8, t);
      break;
    case 'pub':
      channel(o, t);
      seqField(o, 'offset', t);
      epoch(o, 'epoch', t);
      if (o.id !== undefined && str(o, 'id', limits.maxIdLength, t).length === 0) bad('pub.id must not be empty');
      if (!isTime(o.ts)) bad('pub.ts must be a non-negative number');
      if (!hasOwn(o, 'd')) bad('pub.d is required');
      break;
    case 'gap': {
      channel(o, t);
      const from = seqField(o, 'from', t);
      const to = seqField(o, 'to', t, 0);
      if (to < from - 1) bad('gap.to must be at least gap.from - 1');
      epoch(o, 'epoch', t);
      if (str(o, 'reason', maxGapReasonLength, t).length === 0) bad('gap.reason must not be empty');
      break;
    }
    case 'join':
    case 'leave':
      channel(o, t);
      member(o.member, limits, `${t}.member`);
      break;
    case 'members': {
      channel(o, t);
      const members = o.members;
      if (!Array.isArray(members)) return bad('members.members must be an array');
      for (let i = 0; i < members.length; i++) member(members[i], limits, 'members.members[]');
      break;
    }
    default:
      return undefined;
  }
  return o as unknown as Frame;
}

/** A peer's `hello.v` for an error message: short, and never a walk over what it sent. */
function shownVersion(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.slice(0, 32));
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return v === undefined ? '(absent)' : `(${Array.isArray(v) ? 'array' : typeof v})`;
}

/** What `hello.nonce` may be: as unguessable as a resume token, and no longer than one. */
const NONCE = /^[A-Za-z0-9_-]{16,64}$/;

function isNonce(value: unknown): value is string {
  return typeof value === 'string' && NONCE.test(value);
}

/** Validate one decoded value as a frame; returns it typed, or throws `ProtocolError`. */
export function validateFrame(value: unknown, limits: DecodeLimits = decodeDefaults): Frame {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return bad('a frame must be a JSON object');
  const o = value as Record<string, unknown>;
  const t = o.t;
  if (typeof t !== 'string') return bad('frame.t must be a string');
  const S = limits.maxStringLength;
  switch (t) {
    case 'msg': {
      seqField(o, 'seq', t);
      const id = str(o, 'id', limits.maxIdLength, t);
      if (id.length === 0) bad('msg.id must not be empty');
      if (!isTime(o.ts)) bad('msg.ts must be a non-negative number');
      if (!hasOwn(o, 'd')) bad('msg.d is required');
      return o as unknown as Frame;
    }
    case 'ack': {
      seqField(o, 'seq', t);
      const hasR = hasOwn(o, 'r');
      const e = o.e;
      if (hasR === (e !== undefined)) bad('ack needs exactly one of r and e');
      if (e !== undefined) {
        if (typeof e !== 'object' || e === null || Array.isArray(e)) bad('ack.e must be an object');
        str(e as Record<string, unknown>, 'code', S, 'ack.e');
        str(e as Record<string, unknown>, 'message', S * 8, 'ack.e');
      }
      return o as unknown as Frame;
    }
    case 'acks': {
      seqField(o, 'seq', t);
      if (!Array.isArray(o.r) || o.r.length === 0) bad('acks.r must be a non-empty array');
      return o as unknown as Frame;
    }
    case 'cack':
    case 'got':
      seqField(o, 'seq', t, 0);
      return o as unknown as Frame;
    case 'ping':
      if (!isTime(o.ts)) bad('ping.ts must be a non-negative number');
      return o as unknown as Frame;
    case 'pong':
      if (!isTime(o.ts) || !isTime(o.at)) bad('pong.ts and pong.at must be non-negative numbers');
      return o as unknown as Frame;
    case 'hello': {
      // Checked first, and any `v` but the integer 1 (absent, "1", 1.5, 2) is a version problem:
      // a peer of another version may shape `v` and every other field differently, and 4406
      // tells it so rather than blaming a field.
      if (o.v !== PROTOCOL_VERSION) {
        throw new ProtocolError(`protocol version ${shownVersion(o.v)} is not supported (this side speaks ${PROTOCOL_VERSION})`, CloseCode.UnsupportedVersion);
      }
      optPositiveInt(o, 'win', t);
      if (o.codecs !== undefined) {
        const c = o.codecs;
        if (!Array.isArray(c) || c.length === 0 || c.length > MAX_CODECS_OFFERED) bad(`hello.codecs must be an array of 1 to ${MAX_CODECS_OFFERED} names`);
        for (const name of c as unknown[]) if (!isCodecName(name)) bad('hello.codecs entries must be 1-32 characters of [a-z0-9-]');
      }
      if (o.resume !== undefined) {
        const r = o.resume;
        if (typeof r !== 'object' || r === null || Array.isArray(r)) bad('hello.resume must be an object');
        const rr = r as Record<string, unknown>;
        str(rr, 'sid', S, 'hello.resume');
        str(rr, 'token', S, 'hello.resume');
        seqField(rr, 'seq', 'hello.resume', 0);
      }
      if (o.nonce !== undefined && !isNonce(o.nonce)) bad('hello.nonce must be 16-64 characters of [A-Za-z0-9_-]');
      return o as unknown as Frame;
    }
    case 'welcome':
      if (o.v !== PROTOCOL_VERSION) bad('welcome.v must be 1');
      str(o, 'sid', S, t);
      str(o, 'token', S, t);
      if (typeof o.resumed !== 'boolean') bad('welcome.resumed must be a boolean');
      seqField(o, 'seq', t, 0);
      seqField(o, 'win', t);
      seqField(o, 'hb', t);
      seqField(o, 'max', t);
      if (o.codec !== undefined && !isCodecName(o.codec)) bad('welcome.codec must be 1-32 characters of [a-z0-9-]');
      if (o.got !== undefined && typeof o.got !== 'boolean') bad('welcome.got must be a boolean');
      return o as unknown as Frame;
    case 'bye':
      if (!isSeq(o.code) || o.code > 4999) bad('bye.code must be a close code');
      str(o, 'reason', S, t);
      if (o.retryMs !== undefined && !isTime(o.retryMs)) bad('bye.retryMs must be a non-negative number');
      return o as unknown as Frame;
    default:
      return validateChannelFrame(o, t, limits) ?? bad(`unknown frame type ${JSON.stringify(t.slice(0, 32))}`);
  }
}

/** Decode one WebSocket message (text) into validated frames. */
export function decode(message: unknown, limits: DecodeLimits = decodeDefaults): Frame[] {
  if (typeof message !== 'string') return bad('a binary message on a JSON connection (the json codec is text only)');
  checkDepth(message, limits.maxDepth);
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch (cause) {
    throw new ProtocolError('message is not valid JSON', CloseCode.BadFrame, { cause });
  }
  if (Array.isArray(value)) {
    if (value.length === 0) bad('a batch must hold at least one frame');
    if (value.length > limits.maxFrames) bad(`a batch holds more than ${limits.maxFrames} frames`);
    const frames = new Array<Frame>(value.length);
    for (let i = 0; i < value.length; i++) frames[i] = validateFrame(value[i], limits);
    return frames;
  }
  return [validateFrame(value, limits)];
}

/** JSON text messages: the default codec, and the one `hello` and `welcome` always use. */
export const jsonCodec: Codec<string> & HandshakeEncoder = { ...jsonEncoder, name: 'json', binary: false, decode };

export type { Json };
