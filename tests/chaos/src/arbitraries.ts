import fc from 'fast-check';
import { textDepth } from './spec.js';

/**
 * fast-check arbitraries for protocol fuzzing: valid frames of every type, JSON text with
 * prototype-pollution keys, and mutations of valid frames (fields dropped, retyped, added,
 * duplicated; text truncated or flipped; batches; nesting). Frames are built as ordered lists of
 * `[key, rawJsonText]` so that `__proto__` becomes a real key in the text, exactly as a hostile
 * peer would send it (an object literal or JSON.stringify could not express that).
 */

/** Keys that pollute prototypes when code copies objects carelessly. */
export const pollutionKeys = ['__proto__', 'constructor', 'prototype'] as const;

/** A JSON object from ordered entries of raw JSON text (duplicates and `__proto__` kept as written). */
export type Entries = ReadonlyArray<readonly [string, string]>;
export const objectText = (entries: Entries): string => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;

const nested = (n: number, inner = '0'): string => `${'['.repeat(n)}${inner}${']'.repeat(n)}`;

/** Values that are valid JSON but wrong, extreme or hostile in some field. */
export const weirdValues: readonly string[] = [
  'null', 'true', 'false', '0', '-0', '1', '-1', '1.5', '0.0000001', '1e-324',
  '1e308', '-1e308', '1e999', '-1e999', '4999', '5000', '65536',
  '9007199254740991', '9007199254740992', '9007199254740993', '-9007199254740993', '18446744073709551616',
  '""', '"1"', '"x"', '"\\ud800"', '"\\u0000"', '[]', '[1]', '{}', '[null]',
  JSON.stringify('a'.repeat(128)), JSON.stringify('a'.repeat(129)), JSON.stringify('😀'.repeat(64)), JSON.stringify('😀'.repeat(65)),
  JSON.stringify('t'.repeat(1024)), JSON.stringify('t'.repeat(1025)), JSON.stringify('m'.repeat(8192)), JSON.stringify('m'.repeat(8193)),
  JSON.stringify('x'.repeat(100_000)),
  '{"__proto__":{"polluted":"yes"}}',
  '{"constructor":{"prototype":{"polluted":"yes"}}}',
  '{"prototype":{"polluted":"yes"}}',
  '[{"__proto__":{"polluted":"yes"}}]',
  '{"sid":"s","token":"k","seq":0,"__proto__":{"seq":"x","polluted":"yes"}}',
  '{"code":"E","message":"m","__proto__":{"polluted":"yes"}}',
  // channel names: the boundaries of length and of the alphabet
  JSON.stringify('n'.repeat(255)), JSON.stringify('n'.repeat(256)), '"room:*"', '"room 42"', '"r\u00f6om"', '"a,b"', '"a+b"', '"#"', '"a\\b"',
  nested(62), nested(63), nested(64), nested(200),
  `"${'['.repeat(300)}"`,
];

/** A JSON value text that may hide pollution keys at any depth. */
export const hostileJson: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
    fc.constantFrom(...weirdValues),
    fc
      .array(fc.tuple(fc.oneof(fc.constantFrom(...pollutionKeys, 't', 'seq', 'polluted'), fc.string({ maxLength: 6 })), tie('value')), { maxLength: 4 })
      .map((entries) => objectText(entries)),
    fc.array(tie('value'), { maxLength: 4 }).map((items) => `[${items.join(',')}]`),
  ),
})).value;

// ---- valid frames ------------------------------------------------------------------------------

const seq = (min: number) =>
  fc.oneof(fc.integer({ min, max: 1_000 }), fc.constantFrom(min, Number.MAX_SAFE_INTEGER), fc.integer({ min, max: Number.MAX_SAFE_INTEGER }));
const time = fc.oneof(fc.nat(), fc.constantFrom(0, 1_732_860_000_000, 1e308), fc.double({ min: 0, max: 1e15, noNaN: true, noDefaultInfinity: true }));
const shortText = (min: number, max: number) =>
  fc.oneof(fc.string({ minLength: min, maxLength: max }), fc.string({ minLength: min, maxLength: Math.floor(max / 2), unit: 'binary' }));
const id = fc.oneof(shortText(1, 128), fc.constantFrom('a'.repeat(128), '😀'.repeat(64)));
const token = fc.oneof(shortText(0, 40), fc.constantFrom('t'.repeat(1024)));
/** Payloads of valid frames: any JSON, hostile keys included, within the nesting bound. */
const payload = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  hostileJson.filter((t) => !t.includes('1e999') && textDepth(t) <= 40),
);

const channelChars = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_:.-@/#='];
const channel = fc.oneof(
  fc.string({ minLength: 1, maxLength: 40, unit: fc.constantFrom(...channelChars) }),
  fc.constantFrom('room:42', 'n'.repeat(255), '#', '='),
);
const epoch = fc.oneof(shortText(1, 64), fc.constantFrom('e'.repeat(64)));
const member = fc
  .tuple(shortText(1, 128), fc.oneof(shortText(1, 40), fc.constantFrom('s'.repeat(1024))), fc.option(payload, { nil: undefined }))
  .map(([clientId, sessionId, identity]) =>
    objectText([['clientId', j(clientId)], ['sessionId', j(sessionId)], ...(identity === undefined ? [] : [['identity', identity] as [string, string]])]),
  );
/** Codec names, valid ones at the edges of their bounds (1 and 32 characters). */
const codecName = fc.oneof(
  fc.constantFrom('json', 'msgpack', 'a', 'x-1', 'z'.repeat(32)),
  fc.stringMatching(/^[a-z0-9-]{1,32}$/),
);

type FrameArb = fc.Arbitrary<Array<[string, string]>>;
const j = (v: unknown) => JSON.stringify(v);
/** Optional entries: each present or not. */
const opt = (key: string, value: fc.Arbitrary<string>) => fc.option(value.map((v): [string, string] => [key, v]), { nil: undefined });
const entries = (...parts: Array<fc.Arbitrary<[string, string] | undefined>>): FrameArb =>
  fc.tuple(...parts).map((list) => list.filter((e): e is [string, string] => e !== undefined));
const fixed = (key: string, value: fc.Arbitrary<string>) => value.map((v): [string, string] => [key, v]);
const c = (text: string) => fc.constant(text);

export const validFrames: Record<string, FrameArb> = {
  hello: entries(
    fixed('t', c('"hello"')),
    fixed('v', c('1')),
    opt('auth', payload),
    opt('resume', fc.tuple(token, token, seq(0)).map(([sid, tok, s]) => objectText([['sid', j(sid)], ['token', j(tok)], ['seq', j(s)]]))),
    opt('win', seq(1).map(j)),
    opt('codecs', fc.array(codecName, { minLength: 1, maxLength: 8 }).map(j)),
  ),
  welcome: entries(
    fixed('t', c('"welcome"')),
    fixed('v', c('1')),
    fixed('sid', token.map(j)),
    fixed('token', token.map(j)),
    fixed('resumed', fc.boolean().map(j)),
    fixed('seq', seq(0).map(j)),
    fixed('win', seq(1).map(j)),
    fixed('hb', seq(1).map(j)),
    fixed('max', seq(1).map(j)),
    opt('codec', codecName.map(j)),
    opt('got', fc.boolean().map(j)),
  ),
  msg: entries(fixed('t', c('"msg"')), fixed('seq', seq(1).map(j)), fixed('id', id.map(j)), fixed('ts', time.map(j)), fixed('d', payload)),
  ack: fc.oneof(
    entries(fixed('t', c('"ack"')), fixed('seq', seq(1).map(j)), fixed('r', payload)),
    entries(
      fixed('t', c('"ack"')),
      fixed('seq', seq(1).map(j)),
      fixed('e', fc.tuple(token, shortText(0, 200)).map(([code, message]) => objectText([['code', j(code)], ['message', j(message)]]))),
    ),
  ),
  acks: entries(fixed('t', c('"acks"')), fixed('seq', seq(1).map(j)), fixed('r', fc.array(payload, { minLength: 1, maxLength: 5 }).map((r) => `[${r.join(',')}]`))),
  cack: entries(fixed('t', c('"cack"')), fixed('seq', seq(0).map(j))),
  got: entries(fixed('t', c('"got"')), fixed('seq', seq(0).map(j))),
  ping: entries(fixed('t', c('"ping"')), fixed('ts', time.map(j))),
  pong: entries(fixed('t', c('"pong"')), fixed('ts', time.map(j)), fixed('at', time.map(j))),
  bye: entries(
    fixed('t', c('"bye"')),
    fixed('code', fc.integer({ min: 0, max: 4999 }).map(j)),
    fixed('reason', token.map(j)),
    opt('retryMs', time.map(j)),
  ),
  // ---- Channels (protocol v1 additions) ----
  sub: entries(
    fixed('t', c('"sub"')),
    fixed('ch', channel.map(j)),
    opt('since', fc.tuple(seq(0), epoch).map(([offset, e]) => objectText([['offset', j(offset)], ['epoch', j(e)]]))),
    opt('win', seq(1).map(j)),
  ),
  unsub: entries(fixed('t', c('"unsub"')), fixed('ch', channel.map(j))),
  pack: entries(fixed('t', c('"pack"')), fixed('ch', channel.map(j)), fixed('offset', seq(0).map(j))),
  presence: entries(fixed('t', c('"presence"')), fixed('ch', channel.map(j))),
  subok: entries(
    fixed('t', c('"subok"')),
    fixed('ch', channel.map(j)),
    fixed('offset', seq(0).map(j)),
    fixed('epoch', epoch.map(j)),
    opt('recovered', fc.boolean().map(j)),
    opt('win', seq(1).map(j)),
  ),
  suberr: entries(fixed('t', c('"suberr"')), fixed('ch', channel.map(j)), fixed('code', token.map(j)), fixed('message', shortText(0, 200).map(j))),
  pub: entries(
    fixed('t', c('"pub"')),
    fixed('ch', channel.map(j)),
    fixed('offset', seq(1).map(j)),
    fixed('epoch', epoch.map(j)),
    opt('id', id.map(j)),
    fixed('ts', time.map(j)),
    fixed('d', payload),
  ),
  gap: fc
    .tuple(channel, seq(1), fc.nat({ max: 1_000 }), epoch, fc.oneof(fc.constantFrom('evicted', 'epoch'), shortText(1, 64)))
    .map(([ch, from, extra, e, reason]): Array<[string, string]> => [
      ['t', '"gap"'],
      ['ch', j(ch)],
      ['from', j(from)],
      ['to', j(Math.min(Number.MAX_SAFE_INTEGER, from - 1 + extra))],
      ['epoch', j(e)],
      ['reason', j(reason)],
    ]),
  join: entries(fixed('t', c('"join"')), fixed('ch', channel.map(j)), fixed('member', member)),
  leave: entries(fixed('t', c('"leave"')), fixed('ch', channel.map(j)), fixed('member', member)),
  members: entries(fixed('t', c('"members"')), fixed('ch', channel.map(j)), fixed('members', fc.array(member, { maxLength: 4 }).map((m) => `[${m.join(',')}]`))),
};

export const anyValidFrame: FrameArb = fc.oneof(...Object.values(validFrames));

// ---- mutations -----------------------------------------------------------------------------------

const frameKeys = [
  't', 'v', 'seq', 'id', 'ts', 'd', 'r', 'e', 'at', 'code', 'reason', 'retryMs', 'sid', 'token', 'resumed', 'win', 'hb', 'max', 'resume', 'auth',
  'codecs', 'codec',
  'ch', 'since', 'offset', 'epoch', 'recovered', 'message', 'from', 'to', 'member', 'members', 'clientId', 'sessionId', 'identity',
];
const anyKey = fc.oneof(fc.constantFrom(...pollutionKeys), fc.constantFrom(...frameKeys), fc.string({ maxLength: 8 }));
const typeNames = [
  'hello', 'welcome', 'msg', 'ack', 'acks', 'cack', 'got', 'ping', 'pong', 'bye',
  'sub', 'unsub', 'pack', 'presence', 'subok', 'suberr', 'pub', 'gap', 'join', 'leave', 'members',
  'Msg', 'launch', '', '__proto__', 'constructor', 'toString',
];

type Mutation = (e: Array<[string, string]>) => Array<[string, string]>;
const at = (i: number, n: number) => (n === 0 ? 0 : i % n);

/** One structural change to a frame's entries. */
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  // drop a field
  fc.nat().map((i): Mutation => (e) => e.filter((_, k) => k !== at(i, e.length))),
  // retype / replace a field's value
  fc.tuple(fc.nat(), hostileJson).map(([i, v]): Mutation => (e) => e.map(([k, old], n) => [k, n === at(i, e.length) ? v : old])),
  // a different frame type
  fc.constantFrom(...typeNames).map((t): Mutation => (e) => e.map(([k, v]) => [k, k === 't' ? j(t) : v])),
  // an extra field (pollution keys included), at any position
  fc.tuple(fc.nat(), anyKey, hostileJson).map(([i, k, v]): Mutation => (e) => [...e.slice(0, at(i, e.length + 1)), [k, v], ...e.slice(at(i, e.length + 1))]),
  // a duplicate of an existing key with another value (JSON.parse keeps the last)
  fc.tuple(fc.nat(), hostileJson).map(([i, v]): Mutation => (e) => (e.length === 0 ? e : [...e, [e[at(i, e.length)]![0], v]])),
);

/** Text-level damage: truncation, a flipped or inserted character, wrapping. */
const textDamage: fc.Arbitrary<(text: string) => string> = fc.oneof(
  fc.nat().map((i) => (t: string) => t.slice(0, at(i, t.length))),
  fc.tuple(fc.nat(), fc.constantFrom('{', '}', '[', ']', '"', '\\', ',', ':', 'x', '0', ' ', '\u0000', '\ud800')).map(
    ([i, ch]) =>
      (t: string) =>
        t.slice(0, at(i, t.length)) + ch + t.slice(at(i, t.length) + 1),
  ),
  fc.tuple(fc.nat(), fc.string({ maxLength: 3, unit: 'binary' })).map(([i, s]) => (t: string) => t.slice(0, at(i, t.length)) + s + t.slice(at(i, t.length))),
  fc.integer({ min: 1, max: 70 }).map((n) => (t: string) => nested(n, t)),
);

/** `arb` with weight `yes`, undefined with weight `no`. */
const sometimes = <T>(arb: fc.Arbitrary<T>, yes: number, no: number): fc.Arbitrary<T | undefined> =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: no }, { arbitrary: arb, weight: yes });

/** A valid frame, mutated 1–3 times, as one WebSocket message's text (maybe damaged, maybe batched). */
export const mutatedMessage: fc.Arbitrary<string> = fc
  .tuple(
    anyValidFrame,
    fc.array(mutation, { minLength: 1, maxLength: 3 }),
    sometimes(textDamage, 1, 3),
    sometimes(fc.tuple(fc.array(anyValidFrame, { maxLength: 3 }), fc.nat()), 1, 3),
  )
  .map(([frame, mutations, damage, batch]) => {
    const text = objectText(mutations.reduce((e, m) => m(e), frame));
    const message = batch === undefined ? text : `[${[...batch[0].map(objectText).slice(0, at(batch[1], batch[0].length + 1)), text, ...batch[0].slice(at(batch[1], batch[0].length + 1)).map(objectText)].join(',')}]`;
    return damage === undefined ? message : damage(message);
  });

/** A batch of valid frames (1–12), sometimes empty or of the boundary sizes. */
export const validBatch: fc.Arbitrary<string> = fc.array(anyValidFrame, { minLength: 1, maxLength: 12 }).map((fs) => `[${fs.map(objectText).join(',')}]`);

/** Messages that are barely JSON, or not at all: random text, JSON-ish alphabets, random bytes. */
export const junkMessage: fc.Arbitrary<string | Buffer | Uint8Array> = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ maxLength: 200, unit: 'binary' }),
  fc.string({ maxLength: 300, unit: fc.constantFrom('{', '}', '[', ']', '"', '\\', ':', ',', 't', 'msg', '"t"', '1', 'e', '-', '.', ' ', 'null', '__proto__') }),
  fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
  fc.uint8Array({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
);
