import type { RemoteErrorInfo, ResumeRequest, StreamPosition } from './frames.js';

/**
 * Typed encoders for every frame of protocol v1: the only code that writes a frame. Both sides
 * take one per connection, so a second codec (MessagePack in binary messages) is one more
 * implementation of this interface, nothing more.
 *
 * `W` is what one encoded unit is: a string for JSON text messages, bytes for a binary codec.
 * Payloads (`msg.d`, `ack.r`, ids, error bodies) are encoded once with `value()` and embedded as
 * they are, so a replay, a retransmission or a fan-out never encodes the same payload twice.
 */
export interface FrameEncoder<W> {
  /**
   * Encode a JSON value once (a payload, a result, a message id). Throws `TypeError` for what the
   * codec cannot carry (a cycle, a BigInt, `undefined` at the top).
   */
  value(value: unknown): W;
  msg(seq: number, id: W, ts: number, d: W): W;
  /** A successful outcome; `r` comes from `value()`. */
  ack(seq: number, r: W): W;
  /** A failed outcome; `e` comes from `value({ code, message })` (see `errorValue`). */
  ackError(seq: number, e: W): W;
  /** Successful outcomes of `seq`, `seq + 1`, …; each `r` comes from `value()`. */
  acks(seq: number, r: readonly W[]): W;
  cack(seq: number): W;
  ping(ts: number): W;
  pong(ts: number, at: number): W;
  hello(fields: HelloFields): W;
  welcome(fields: WelcomeFields): W;
  bye(code: number, reason: string, retryMs?: number): W;
  // ---- Channels. Server → client frames that fan out (`pub`, `join`, `leave`) take their
  // channel, epoch, id, payload and member already encoded with `value()`: the caller encodes
  // them once per publication, and the frame is then the same unit for every subscriber.
  sub(ch: string, since?: StreamPosition, win?: number): W;
  unsub(ch: string): W;
  /** Every publication of `ch` up to `offset` was delivered. */
  pack(ch: string, offset: number): W;
  presence(ch: string): W;
  subok(ch: string, offset: number, epoch: string, recovered?: boolean): W;
  suberr(ch: string, error: RemoteErrorInfo): W;
  /** One publication; `ch`, `epoch`, `d` and `id` come from `value()`, encoded once for every subscriber. */
  pub(ch: W, offset: number, epoch: W, ts: number, d: W, id?: W): W;
  gap(ch: string, from: number, to: number, epoch: string, reason: string): W;
  /** `ch` and `member` come from `value()`. */
  join(ch: W, member: W): W;
  leave(ch: W, member: W): W;
  /** The answer to `presence`; each member comes from `value()`. */
  members(ch: string, members: readonly W[]): W;
  /** One WebSocket message from frames encoded here: a lone frame as it is, more as a batch. */
  batch(frames: readonly W[]): W;
  /** Size of an encoded unit: characters of JSON text (bytes for ASCII), or bytes. */
  size(unit: W): number;
}

export interface HelloFields {
  readonly v: number;
  readonly auth?: unknown;
  readonly resume?: ResumeRequest;
  readonly win?: number;
}

export interface WelcomeFields {
  readonly v: number;
  readonly sid: string;
  readonly token: string;
  readonly resumed: boolean;
  readonly seq: number;
  readonly win: number;
  readonly hb: number;
  readonly max: number;
}

/** Numbers on the wire are finite: a NaN or Infinity would encode as `null` and break the peer's decoder. */
function num(n: number): number {
  return Number.isFinite(n) ? n : 0;
}

/** The error body of a failed outcome: what `ackError` embeds, encoded once by the caller. */
export function errorValue(error: RemoteErrorInfo): RemoteErrorInfo {
  return { code: error.code, message: error.message };
}

/** The JSON encoder: frames are built from already-encoded parts by concatenation. */
export const jsonEncoder: FrameEncoder<string> = {
  value(value: unknown): string {
    const json = JSON.stringify(value);
    if (json === undefined) throw new TypeError('a payload must be JSON (got undefined, a function or a symbol)');
    return json;
  },
  msg: (seq, id, ts, d) => `{"t":"msg","seq":${seq},"id":${id},"ts":${num(ts)},"d":${d}}`,
  ack: (seq, r) => `{"t":"ack","seq":${seq},"r":${r}}`,
  ackError: (seq, e) => `{"t":"ack","seq":${seq},"e":${e}}`,
  acks: (seq, r) => `{"t":"acks","seq":${seq},"r":[${r.join(',')}]}`,
  cack: (seq) => `{"t":"cack","seq":${seq}}`,
  ping: (ts) => `{"t":"ping","ts":${num(ts)}}`,
  pong: (ts, at) => `{"t":"pong","ts":${num(ts)},"at":${num(at)}}`,
  hello: (f) => JSON.stringify({ t: 'hello', v: f.v, auth: f.auth, resume: f.resume, win: f.win }),
  welcome: (f) =>
    JSON.stringify({ t: 'welcome', v: f.v, sid: f.sid, token: f.token, resumed: f.resumed, seq: f.seq, win: f.win, hb: f.hb, max: f.max }),
  bye: (code, reason, retryMs) =>
    JSON.stringify(retryMs === undefined ? { t: 'bye', code, reason } : { t: 'bye', code, reason, retryMs: num(retryMs) }),
  sub: (ch, since, win) =>
    JSON.stringify({ t: 'sub', ch, since: since === undefined ? undefined : { offset: since.offset, epoch: since.epoch }, win }),
  unsub: (ch) => JSON.stringify({ t: 'unsub', ch }),
  pack: (ch, offset) => `{"t":"pack","ch":${JSON.stringify(ch)},"offset":${offset}}`,
  presence: (ch) => JSON.stringify({ t: 'presence', ch }),
  subok: (ch, offset, epoch, recovered) => JSON.stringify({ t: 'subok', ch, offset, epoch, recovered }),
  suberr: (ch, error) => JSON.stringify({ t: 'suberr', ch, code: error.code, message: error.message }),
  pub: (ch, offset, epoch, ts, d, id) =>
    id === undefined
      ? `{"t":"pub","ch":${ch},"offset":${offset},"epoch":${epoch},"ts":${num(ts)},"d":${d}}`
      : `{"t":"pub","ch":${ch},"offset":${offset},"epoch":${epoch},"id":${id},"ts":${num(ts)},"d":${d}}`,
  gap: (ch, from, to, epoch, reason) => JSON.stringify({ t: 'gap', ch, from, to, epoch, reason }),
  join: (ch, member) => `{"t":"join","ch":${ch},"member":${member}}`,
  leave: (ch, member) => `{"t":"leave","ch":${ch},"member":${member}}`,
  members: (ch, members) => `{"t":"members","ch":${JSON.stringify(ch)},"members":[${members.join(',')}]}`,
  batch: (frames) => (frames.length === 1 ? (frames[0] as string) : `[${frames.join(',')}]`),
  size: (unit) => unit.length,
};
