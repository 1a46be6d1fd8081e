import type { HelloFrame, RemoteErrorInfo, StreamPosition, WelcomeFrame } from './frames.js';
import { nestsWithin } from './depth.js';
import { decodeDefaults } from './limits.js';

/**
 * Typed encoders for every frame of protocol v1 after the handshake: the only code that writes
 * a frame. Both sides take one per connection (a `Codec`, negotiated in `hello`/`welcome`), so a
 * second codec (MessagePack in binary messages) is one more implementation of this interface.
 *
 * `W` is what one encoded unit is: a string for JSON text messages, bytes for a binary codec.
 * Payloads (`msg.d`, `ack.r`, ids, error bodies) are encoded once with `value()` and embedded as
 * they are, so a replay, a retransmission or a fan-out never encodes the same payload twice.
 * Every frame written here is one the peer's decoder accepts: numbers are finite, strings within
 * their bounds, payloads within the nesting bound.
 */
export interface FrameEncoder<W> {
  /**
   * Encode a value once (a payload, a result, a message id). Throws `TypeError` for what the
   * codec cannot carry (a cycle, a BigInt, `undefined` at the top) and for a value nested deeper
   * than `MAX_PAYLOAD_DEPTH` (the peer would refuse the frame that carries it).
   */
  value(value: unknown): W;
  /** Whether a unit from `value()` nests at most `levels` levels (`acks.r` takes one level less than `ack.r`). */
  nestsWithin(unit: W, levels: number): boolean;
  msg(seq: number, id: W, ts: number, d: W): W;
  /** A successful outcome; `r` comes from `value()`. */
  ack(seq: number, r: W): W;
  /** A failed outcome; `e` comes from `value({ code, message })` (see `errorValue`). */
  ackError(seq: number, e: W): W;
  /** Successful outcomes of `seq`, `seq + 1`, …; each `r` comes from `value()` and nests within `MAX_BATCHED_RESULT_DEPTH`. */
  acks(seq: number, r: readonly W[]): W;
  cack(seq: number): W;
  /** The client holds the answers of every message up to `seq` (see `GotFrame`). */
  got(seq: number): W;
  ping(ts: number): W;
  pong(ts: number, at: number): W;
  /** `reason` is cut to the decoder's string bound. */
  bye(code: number, reason: string, retryMs?: number): W;
  // ---- Channels. Server → client frames that fan out (`pub`, `join`, `leave`) take their
  // channel, epoch, id, payload and member already encoded with `value()`: the caller encodes
  // them once per publication, and the frame is then the same unit for every subscriber.
  sub(ch: string, since?: StreamPosition, win?: number): W;
  unsub(ch: string): W;
  /** Every publication of `ch` up to `offset` was delivered. */
  pack(ch: string, offset: number): W;
  presence(ch: string): W;
  subok(ch: string, offset: number, epoch: string, recovered?: boolean, win?: number): W;
  suberr(ch: string, error: RemoteErrorInfo): W;
  /** One publication; `ch`, `epoch`, `d` and `id` come from `value()`, encoded once for every subscriber. */
  pub(ch: W, offset: number, epoch: W, ts: number, d: W, id?: W): W;
  gap(ch: string, from: number, to: number, epoch: string, reason: string): W;
  /** `ch` and `member` come from `value()`. */
  join(ch: W, member: W): W;
  leave(ch: W, member: W): W;
  /** The answer to `presence`; each member comes from `value()`. */
  members(ch: string, members: readonly W[]): W;
  /**
   * One WebSocket message from two or more frames encoded here. A lone frame is a message as it
   * is (no call here), so the common single-frame message costs no copy.
   */
  batch(frames: readonly W[]): W;
  /** Size of an encoded unit: characters of JSON text (UTF-16 units), or bytes. */
  size(unit: W): number;
}

/** `hello` and `welcome` are JSON text whatever the codec: they are how the codec is chosen. */
export interface HandshakeEncoder {
  hello(fields: HelloFields): string;
  welcome(fields: WelcomeFields): string;
}

/** A `hello`'s fields: the frame without its type (`auth` may be any value the codec carries). */
export type HelloFields = Omit<HelloFrame, 't' | 'auth'> & { readonly auth?: unknown };

/** A `welcome`'s fields: the frame without its type. */
export type WelcomeFields = Omit<WelcomeFrame, 't'>;

/**
 * Levels a payload may nest in `msg.d` or `ack.r`: the decoder allows 64 per frame and the
 * frame's own object is level 1 (protocol.md, "Transport and framing").
 */
export const MAX_PAYLOAD_DEPTH = decodeDefaults.maxDepth - 1;
/** Levels a result may nest as an entry of `acks.r`, whose array is level 2. */
export const MAX_BATCHED_RESULT_DEPTH = MAX_PAYLOAD_DEPTH - 1;

/** Numbers on the wire are finite: a NaN or Infinity would encode as `null` and break the peer's decoder. */
function num(n: number): number {
  return Number.isFinite(n) ? n : 0;
}

/** The error body of a failed outcome: what `ackError` embeds, encoded once by the caller. */
export function errorValue(error: RemoteErrorInfo): RemoteErrorInfo {
  return { code: error.code, message: error.message };
}

/** Whether encoded JSON text nests within `MAX_PAYLOAD_DEPTH`: the check `value()` makes, for a payload encoded elsewhere. */
export function payloadDepthOk(json: string): boolean {
  return nestsWithin(json, MAX_PAYLOAD_DEPTH);
}

const REASON = decodeDefaults.maxStringLength;

/** The JSON encoder: frames are built from already-encoded parts by concatenation. */
export const jsonEncoder: FrameEncoder<string> & HandshakeEncoder = {
  value(value: unknown): string {
    const json = JSON.stringify(value);
    if (json === undefined) throw new TypeError('a payload must be JSON (got undefined, a function or a symbol)');
    if (!nestsWithin(json, MAX_PAYLOAD_DEPTH)) throw new TypeError(`a payload may nest at most ${MAX_PAYLOAD_DEPTH} levels of arrays and objects`);
    return json;
  },
  nestsWithin,
  msg: (seq, id, ts, d) => `{"t":"msg","seq":${seq},"id":${id},"ts":${num(ts)},"d":${d}}`,
  ack: (seq, r) => `{"t":"ack","seq":${seq},"r":${r}}`,
  ackError: (seq, e) => `{"t":"ack","seq":${seq},"e":${e}}`,
  acks: (seq, r) => `{"t":"acks","seq":${seq},"r":[${r.join(',')}]}`,
  cack: (seq) => `{"t":"cack","seq":${seq}}`,
  got: (seq) => `{"t":"got","seq":${seq}}`,
  ping: (ts) => `{"t":"ping","ts":${num(ts)}}`,
  pong: (ts, at) => `{"t":"pong","ts":${num(ts)},"at":${num(at)}}`,
  hello: (f) => JSON.stringify({ t: 'hello', v: f.v, auth: f.auth, resume: f.resume, win: f.win, codecs: f.codecs, nonce: f.nonce }),
  welcome: (f) =>
    JSON.stringify({ t: 'welcome', v: f.v, sid: f.sid, token: f.token, resumed: f.resumed, seq: f.seq, win: f.win, hb: f.hb, max: f.max, codec: f.codec, got: f.got }),
  bye: (code, reason, retryMs) => {
    const cut = reason.length > REASON ? reason.slice(0, REASON) : reason;
    return JSON.stringify(retryMs === undefined ? { t: 'bye', code, reason: cut } : { t: 'bye', code, reason: cut, retryMs: num(retryMs) });
  },
  sub: (ch, since, win) =>
    JSON.stringify({ t: 'sub', ch, since: since === undefined ? undefined : { offset: since.offset, epoch: since.epoch }, win }),
  unsub: (ch) => JSON.stringify({ t: 'unsub', ch }),
  pack: (ch, offset) => `{"t":"pack","ch":${JSON.stringify(ch)},"offset":${offset}}`,
  presence: (ch) => JSON.stringify({ t: 'presence', ch }),
  subok: (ch, offset, epoch, recovered, win) => JSON.stringify({ t: 'subok', ch, offset, epoch, recovered, win }),
  suberr: (ch, error) => JSON.stringify({ t: 'suberr', ch, code: error.code, message: error.message }),
  pub: (ch, offset, epoch, ts, d, id) =>
    id === undefined
      ? `{"t":"pub","ch":${ch},"offset":${offset},"epoch":${epoch},"ts":${num(ts)},"d":${d}}`
      : `{"t":"pub","ch":${ch},"offset":${offset},"epoch":${epoch},"id":${id},"ts":${num(ts)},"d":${d}}`,
  gap: (ch, from, to, epoch, reason) => JSON.stringify({ t: 'gap', ch, from, to, epoch, reason }),
  join: (ch, member) => `{"t":"join","ch":${ch},"member":${member}}`,
  leave: (ch, member) => `{"t":"leave","ch":${ch},"member":${member}}`,
  members: (ch, members) => `{"t":"members","ch":${JSON.stringify(ch)},"members":[${members.join(',')}]}`,
  batch: (frames) => {
    const n = frames.length;
    if (n === 1) return frames[0] as string;
    // One join that writes the brackets too: `[${frames.join(',')}]` is a string of three pieces
    // that the socket's UTF-8 encoding flattens into a second copy of the whole batch (~180 bytes
    // of garbage per message sent all at once, issue 14). The copied array costs 8 bytes a frame.
    const parts = frames.slice();
    parts[0] = `[${parts[0] as string}`;
    parts[n - 1] = `${parts[n - 1] as string}]`;
    return parts.join(',');
  },
  size: (unit) => unit.length,
};

/** A `msg` frame in JSON from its parts, the payload already JSON-encoded: `jsonEncoder.msg`. */
export const encodeMsg: (seq: number, idJson: string, ts: number, dataJson: string) => string = jsonEncoder.msg;
