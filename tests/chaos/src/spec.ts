/**
 * An independent reading of docs/protocol.md ("Transport and framing", "Frames", "Channels"), written from
 * the document and not from codec.ts, for differential fuzzing: for any WebSocket message it
 * says whether the decoder must accept it (and which frames it must return) or reject it (and
 * with which close codes). Fields are read as own properties only, so `__proto__` keys in the
 * JSON never stand in for real fields.
 */

export const limits = {
  /** "a frame nests at most 64 levels … its own object being level 1"; "the array of a batch does not count" */
  maxDepth: 64,
  /** "a batch (a JSON array of 1 to 4096 frames)" */
  maxFrames: 4096,
  /** `msg.id`: "string, 1–128" ("String bounds count UTF-16 code units") */
  maxId: 128,
  /** `sid`, `token`, `reason`, `e.code`: "≤ 1024" */
  maxString: 1024,
  /** `ack.e.message`: "≤ 8192" */
  maxErrorMessage: 8 * 1024,
  /** Channel names: "1–255 characters, each one of `A–Z a–z 0–9 _ : . - @ / # =`" */
  maxChannel: 255,
  /** "Epochs are strings of 1–64 characters" */
  maxEpoch: 64,
  /** `gap.reason`: "string … 1–64" */
  maxReason: 64,
  /** `hello.codecs`: "an array of 1 to 8 codec names" */
  maxCodecs: 8,
} as const;

/** A codec name (`hello.codecs` entries, `welcome.codec`): "1–32 characters, each a lower-case ASCII letter, a digit or `-`". */
function codecName(v: unknown): boolean {
  if (typeof v !== 'string' || v.length < 1 || v.length > 32) return false;
  for (const ch of v) if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch === '-')) return false;
  return true;
}

const CHANNEL_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_:.-@/#=';
/** A channel name, checked character by character against the listed set (not by the codec's regex). */
const channelName = (v: unknown): boolean => {
  if (typeof v !== 'string' || v.length < 1 || v.length > limits.maxChannel) return false;
  for (const ch of v) if (!CHANNEL_CHARS.includes(ch)) return false;
  return true;
};

export type Verdict =
  | { readonly ok: true; readonly frames: readonly unknown[] }
  | { readonly ok: false; readonly codes: ReadonlySet<number>; readonly why: string };

const BAD = new Set([4400]);
/** `hello.v`: "Any other value, of any type, or none: close 4406". */
const VERSION = new Set([4406]);

const bad = (why: string, codes: ReadonlySet<number> = BAD): Verdict => ({ ok: false, codes, why });

/**
 * Nesting depth of a JSON text (a scalar is 0, `{}` is 1), counted on the text: a value that a
 * later duplicate key overwrites still counts, as the message carried it.
 */
export function textDepth(json: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const ch = json[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    else if (ch === '[' || ch === '{') max = Math.max(max, ++depth);
    else if (ch === ']' || ch === '}') depth--;
  }
  return max;
}

/** What the decoder must do with one WebSocket message (a string for text, anything else for binary). */
export function judgeMessage(message: unknown): Verdict {
  if (typeof message !== 'string') return bad('binary message');
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch (error) {
    // A RangeError here is JSON.parse running out of stack: nesting far past 64 levels.
    return bad(error instanceof RangeError ? 'nesting' : 'not JSON');
  }
  // "a frame is allowed the same depth batched as alone, so a batch nests at most 65 levels"
  if (textDepth(message) > limits.maxDepth + (Array.isArray(value) ? 1 : 0)) return bad('nesting');
  if (!Array.isArray(value)) {
    const verdict = judgeFrame(value);
    return verdict === undefined ? { ok: true, frames: [value] } : verdict;
  }
  if (value.length === 0) return bad('empty batch');
  if (value.length > limits.maxFrames) return bad('batch too long');
  // "Frames in a batch are processed in array order": the first bad frame decides.
  for (const frame of value) {
    const verdict = judgeFrame(frame);
    if (verdict !== undefined) return verdict;
  }
  return { ok: true, frames: value };
}

type Obj = Record<string, unknown>;
const own = (o: Obj, key: string): unknown => (Object.prototype.hasOwnProperty.call(o, key) ? o[key] : undefined);
const has = (o: Obj, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key);
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
/** seq values are "non-negative safe integers (≤ 2^53 − 1)"; so are the other integers. */
const int = (v: unknown, min: number): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= min;
/** times: "wall clock milliseconds since the Unix epoch": a finite number, not negative. */
const time = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const text = (v: unknown, max: number, min = 0): boolean => typeof v === 'string' && v.length >= min && v.length <= max;

/** Undefined when `value` is a valid frame, else the verdict rejecting it. */
export function judgeFrame(value: unknown): Verdict | undefined {
  if (!isObject(value)) return bad('a frame is an object');
  const o = value;
  const t = own(o, 't');
  if (typeof t !== 'string') return bad('t is a string');
  const S = limits.maxString;
  switch (t) {
    case 'hello': {
      // "Checked before every other field"
      if (own(o, 'v') !== 1) return bad('hello.v is 1', VERSION);
      if (has(o, 'win') && !int(own(o, 'win'), 1)) return bad('hello.win ≥ 1');
      if (has(o, 'codecs')) {
        const c = own(o, 'codecs');
        if (!Array.isArray(c) || c.length < 1 || c.length > limits.maxCodecs || !c.every(codecName)) return bad('hello.codecs');
      }
      if (has(o, 'resume')) {
        const r = own(o, 'resume');
        if (!isObject(r)) return bad('hello.resume is an object');
        if (!text(own(r, 'sid'), S) || !text(own(r, 'token'), S) || !int(own(r, 'seq'), 0)) return bad('hello.resume fields');
      }
      // "16–64 characters of A–Z, a–z, 0–9, _, -"
      if (has(o, 'nonce')) {
        const n = own(o, 'nonce');
        if (typeof n !== 'string' || !/^[A-Za-z0-9_-]{16,64}$/.test(n)) return bad('hello.nonce');
      }
      return undefined;
    }
    case 'welcome':
      if (own(o, 'v') !== 1) return bad('welcome.v is 1');
      if (!text(own(o, 'sid'), S) || !text(own(o, 'token'), S)) return bad('welcome sid/token');
      if (typeof own(o, 'resumed') !== 'boolean') return bad('welcome.resumed');
      if (!int(own(o, 'seq'), 0) || !int(own(o, 'win'), 1) || !int(own(o, 'hb'), 1) || !int(own(o, 'max'), 1)) return bad('welcome integers');
      if (has(o, 'codec') && !codecName(own(o, 'codec'))) return bad('welcome.codec');
      if (has(o, 'got') && typeof own(o, 'got') !== 'boolean') return bad('welcome.got');
      return undefined;
    case 'msg':
      if (!int(own(o, 'seq'), 1)) return bad('msg.seq ≥ 1');
      if (!text(own(o, 'id'), limits.maxId, 1)) return bad('msg.id 1–128');
      if (!time(own(o, 'ts'))) return bad('msg.ts');
      if (!has(o, 'd')) return bad('msg.d required');
      return undefined;
    case 'ack': {
      if (!int(own(o, 'seq'), 1)) return bad('ack.seq ≥ 1');
      if (has(o, 'r') === has(o, 'e')) return bad('ack: exactly one of r and e');
      if (has(o, 'e')) {
        const e = own(o, 'e');
        if (!isObject(e) || !text(own(e, 'code'), S) || !text(own(e, 'message'), limits.maxErrorMessage)) return bad('ack.e');
      }
      return undefined;
    }
    case 'acks': {
      const r = own(o, 'r');
      if (!int(own(o, 'seq'), 1) || !Array.isArray(r) || r.length === 0) return bad('acks');
      return undefined;
    }
    case 'cack':
      return int(own(o, 'seq'), 0) ? undefined : bad('cack.seq ≥ 0');
    case 'got':
      return int(own(o, 'seq'), 0) ? undefined : bad('got.seq ≥ 0');
    case 'ping':
      return time(own(o, 'ts')) ? undefined : bad('ping.ts');
    case 'pong':
      return time(own(o, 'ts')) && time(own(o, 'at')) ? undefined : bad('pong.ts/at');
    case 'bye': {
      const code = own(o, 'code');
      if (!int(code, 0) || (code as number) > 4999) return bad('bye.code');
      if (!text(own(o, 'reason'), S)) return bad('bye.reason');
      if (has(o, 'retryMs') && !time(own(o, 'retryMs'))) return bad('bye.retryMs');
      return undefined;
    }
    // ---- Channels (protocol v1 additions) ----
    case 'sub': {
      if (!channelName(own(o, 'ch'))) return bad('sub.ch');
      if (has(o, 'since')) {
        const since = own(o, 'since');
        if (!isObject(since) || !int(own(since, 'offset'), 0) || !text(own(since, 'epoch'), limits.maxEpoch, 1)) return bad('sub.since');
      }
      if (has(o, 'win') && !int(own(o, 'win'), 1)) return bad('sub.win ≥ 1');
      return undefined;
    }
    case 'unsub':
    case 'presence':
      return channelName(own(o, 'ch')) ? undefined : bad(`${t}.ch`);
    case 'pack':
      return channelName(own(o, 'ch')) && int(own(o, 'offset'), 0) ? undefined : bad('pack');
    case 'subok':
      if (!channelName(own(o, 'ch')) || !int(own(o, 'offset'), 0) || !text(own(o, 'epoch'), limits.maxEpoch, 1)) return bad('subok');
      if (has(o, 'recovered') && typeof own(o, 'recovered') !== 'boolean') return bad('subok.recovered');
      if (has(o, 'win') && !int(own(o, 'win'), 1)) return bad('subok.win ≥ 1');
      return undefined;
    case 'suberr':
      if (!channelName(own(o, 'ch')) || !text(own(o, 'code'), S) || !text(own(o, 'message'), limits.maxErrorMessage)) return bad('suberr');
      return undefined;
    case 'pub':
      if (!channelName(own(o, 'ch')) || !int(own(o, 'offset'), 1) || !text(own(o, 'epoch'), limits.maxEpoch, 1)) return bad('pub ch/offset/epoch');
      if (has(o, 'id') && !text(own(o, 'id'), limits.maxId, 1)) return bad('pub.id 1–128');
      if (!time(own(o, 'ts'))) return bad('pub.ts');
      if (!has(o, 'd')) return bad('pub.d required');
      return undefined;
    case 'gap': {
      const from = own(o, 'from');
      const to = own(o, 'to');
      if (!channelName(own(o, 'ch')) || !int(from, 1) || !int(to, 0)) return bad('gap ch/from/to');
      // "`to` ≥ `from` − 1"
      if ((to as number) < (from as number) - 1) return bad('gap.to ≥ from − 1');
      if (!text(own(o, 'epoch'), limits.maxEpoch, 1) || !text(own(o, 'reason'), limits.maxReason, 1)) return bad('gap epoch/reason');
      return undefined;
    }
    case 'join':
    case 'leave':
      return channelName(own(o, 'ch')) && member(own(o, 'member')) ? undefined : bad(`${t}`);
    case 'members': {
      const members = own(o, 'members');
      if (!channelName(own(o, 'ch')) || !Array.isArray(members)) return bad('members');
      return members.every(member) ? undefined : bad('members.members[]');
    }
    default:
      return bad('unknown frame type');
  }
}

/** `join.member` (and each of `members.members`): `clientId` string 1–128, `sessionId` string 1–1024, `identity` optional any JSON. */
function member(v: unknown): boolean {
  return isObject(v) && text(own(v, 'clientId'), limits.maxId, 1) && text(own(v, 'sessionId'), limits.maxString, 1);
}
