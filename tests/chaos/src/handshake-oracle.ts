import type { RawMessage } from './raw-peer.js';
import { judgeMessage } from './spec.js';

/**
 * What docs/protocol.md says a server must do with a connection whose first two messages are
 * `first` and `second` (the second sent right behind the first, so it may reach the server
 * before or after `welcome`), followed — once welcomed — by a probe `ping`.
 *
 * - No `hello` within `handshakeTimeoutMs` → 4408. Binary → 4400. Bad UTF-8 text → 1007 (the
 *   WebSocket layer; not in protocol.md's table). Larger than `max` → 1009. Undecodable → 4400,
 *   or 4406 for a `hello` of another version. Anything before `hello`, or a second `hello` → 4400.
 * - `hello.codecs` naming no codec the server speaks (this one speaks `json`) → 4406, before
 *   `authenticate` runs.
 * - `authenticate` refuses → 4401; `authenticate` throws → 1013 (retryable, reported through the
 *   server's `error` event, not as a protocol error). A resume of a live session by the same
 *   identity (the same identity key: string or number `sub`, else `id`, else the JSON with sorted
 *   keys) with a token that does not match → 4403. A resume of a session of another identity, or
 *   of an unknown session → a new session (`welcome`, `resumed: false`).
 * - After `welcome`: `msg`, `cack`, `got`, `ping`, `pong` keep the connection; `bye` 1000 ends the
 *   session (close 1000); another `bye` precedes a close the peer makes, so the server ignores
 *   the rest of that message; a frame only servers send (`welcome`, `ack`, `acks`) → 4400.
 */

export interface HandshakeContext {
  readonly maxPayloadBytes: number;
  /** The good client's session id: a resume of it by its identity with a forged token must get 4403. */
  readonly liveSid: string;
  /** The identity `authenticate` gave the good client. */
  readonly liveIdentity: unknown;
  /** What `authenticate` makes of this `hello.auth` (hello without auth passes `undefined`). */
  readonly identityOf: (auth: unknown) => unknown;
  /** Whether `authenticate` refuses this `hello.auth`. */
  readonly refuses: (auth: unknown) => boolean;
  /** Whether `authenticate` throws for this `hello.auth` (its backend is down). */
  readonly throws: (auth: unknown) => boolean;
  /** Frames held before `welcome` beyond which the server refuses (maxInFlight + 64). */
  readonly maxHeld: number;
}

export type End = number | 'open';

export interface Expected {
  /** Whether the peer must, may, or must not see `welcome` first. */
  readonly welcome: 'yes' | 'no' | 'maybe';
  readonly ends: ReadonlySet<End>;
  readonly why: string;
}

type Frame = Record<string, unknown>;
type Parsed = { readonly close: ReadonlySet<number>; readonly why: string } | { readonly frames: readonly Frame[] };

function parse(m: RawMessage, ctx: HandshakeContext): Parsed {
  if (m.kind === 'binary') return { close: new Set([4400]), why: 'binary message' };
  if (m.kind === 'bad-utf8') return { close: new Set([1007]), why: 'text that is not UTF-8' };
  if (Buffer.byteLength(m.text) > ctx.maxPayloadBytes) return { close: new Set([1009]), why: 'larger than max' };
  const v = judgeMessage(m.text);
  if (!v.ok) return { close: v.codes, why: v.why };
  return { frames: v.frames as Frame[] };
}

const own = (f: Frame, k: string): unknown => (Object.prototype.hasOwnProperty.call(f, k) ? f[k] : undefined);

/** JSON with sorted object keys, every own key kept (`__proto__` too). */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'undefined';
}

/** The identity key as protocol.md states it: a string or finite number `sub`, else `id`, else sorted JSON. */
export function documentedIdentityKey(identity: unknown): string {
  if (identity !== null && typeof identity === 'object') {
    for (const name of ['sub', 'id'] as const) {
      const v = (identity as Record<string, unknown>)[name];
      if (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) return `${name}:${typeof v}:${String(v)}`;
    }
  }
  return `json:${canonical(identity)}`;
}

/** Frames of one WebSocket message dispatched on an open connection: how it ends, or undefined if it carries on. */
function dispatch(frames: readonly Frame[]): End | undefined {
  for (const f of frames) {
    switch (own(f, 't')) {
      case 'msg':
      case 'cack':
      case 'got':
      case 'ping':
      case 'pong':
      // Channel frames (protocol.md, "Channels"): a refusal is a `suberr`, never a close.
      case 'sub':
      case 'unsub':
      case 'pack':
      case 'presence':
        continue;
      case 'bye':
        return own(f, 'code') === 1000 ? 1000 : undefined; // another bye: the rest of this message is ignored
      default:
        return 4400; // hello again, or a frame only a server sends
    }
  }
  return undefined;
}

export function expectHandshake(first: RawMessage | undefined, second: RawMessage | undefined, ctx: HandshakeContext): Expected {
  if (first === undefined) return { welcome: 'no', ends: new Set([4408]), why: 'no hello' };
  const p1 = parse(first, ctx);
  if ('close' in p1) return { welcome: 'no', ends: p1.close, why: `first: ${p1.why}` };
  const [hello, ...rest] = p1.frames as [Frame, ...Frame[]];
  if (own(hello, 't') !== 'hello') return { welcome: 'no', ends: new Set([4400]), why: 'first frame is not hello' };
  if (rest.some((f) => own(f, 't') === 'hello')) return { welcome: 'no', ends: new Set([4400]), why: 'two hellos' };
  if (rest.length > ctx.maxHeld) return { welcome: 'no', ends: new Set([4400]), why: 'too many frames before welcome' };

  const p2 = second === undefined ? undefined : parse(second, ctx);
  const secondFails = p2 !== undefined && 'close' in p2;
  const secondHello = p2 !== undefined && 'frames' in p2 && p2.frames.some((f) => own(f, 't') === 'hello');

  // "A server that speaks none of the offered codecs closes with 4406", before authenticating.
  const codecs = own(hello, 'codecs');
  if (Array.isArray(codecs) && !codecs.includes('json')) return { welcome: 'no', ends: new Set([4406]), why: 'no codec in common' };

  const resume = own(hello, 'resume') as Frame | undefined;
  const auth = own(hello, 'auth');
  const forged =
    resume !== undefined &&
    own(resume, 'sid') === ctx.liveSid &&
    documentedIdentityKey(ctx.identityOf(auth)) === documentedIdentityKey(ctx.liveIdentity);
  const refusal = ctx.throws(auth) ? 1013 : ctx.refuses(auth) ? 4401 : forged ? 4403 : undefined;
  if (refusal !== undefined) {
    // The second message may be judged while authenticate runs, and fail the connection first.
    const ends = new Set<End>([refusal]);
    if (p2 !== undefined && 'close' in p2) for (const c of p2.close) ends.add(c);
    if (secondHello) ends.add(4400);
    const why = refusal === 1013 ? 'authenticate threw' : refusal === 4401 ? 'refused by authenticate' : 'resume with a forged token';
    return { welcome: 'no', ends, why };
  }

  const ends = new Set<End>();
  let welcome: Expected['welcome'];
  // A: the second message arrives after welcome; frames that came with hello are dispatched first.
  const afterHeld = dispatch(rest);
  if (afterHeld !== undefined) ends.add(afterHeld);
  else if (p2 === undefined) ends.add('open');
  else if ('close' in p2) for (const c of p2.close) ends.add(c);
  else ends.add(dispatch(p2.frames) ?? 'open');
  // B: the second message arrives during the handshake: it fails the handshake, or is held with the rest.
  if (p2 === undefined) {
    welcome = 'yes';
  } else if (secondFails || secondHello) {
    welcome = 'maybe';
    if ('close' in p2) for (const c of p2.close) ends.add(c);
    if (secondHello) ends.add(4400);
  } else {
    const held = [...rest, ...(p2 as { frames: readonly Frame[] }).frames];
    welcome = held.length > ctx.maxHeld ? 'maybe' : 'yes';
    ends.add(held.length > ctx.maxHeld ? 4400 : (dispatch(held) ?? 'open'));
  }
  return { welcome, ends, why: 'hello accepted' };
}
