import fc from 'fast-check';
import { hostileJson, junkMessage, mutatedMessage, objectText, validFrames, weirdValues } from './arbitraries.js';
import type { RawMessage } from './raw-peer.js';

/**
 * First and second messages for handshake fuzzing. `LIVE_SID` stands for the good client's
 * session id, substituted when the case runs (a resume of a live session with a forged token:
 * 4403 under the good client's identity, a new session under any other).
 */
export const LIVE_SID = '$LIVE_SID$';

const text = (t: string): RawMessage => ({ kind: 'text', text: t });
const j = JSON.stringify;

/** Auth values, some refused (or thrown on) by the test server's `authenticate` (see fuzz-handshake.test.ts). */
const auth = fc.oneof(
  { arbitrary: fc.constantFrom('"deny"', '"throw"', 'null', 'false'), weight: 1 },
  { arbitrary: fc.constantFrom('"ok"', '0', '""', '{"user":"mallory"}', '{"user":"good"}', '{"user":"good","__proto__":{"admin":true}}'), weight: 3 },
  { arbitrary: hostileJson, weight: 2 },
);

const resume = fc.oneof(
  // a live session, with a forged token: 4403
  { arbitrary: fc.string({ maxLength: 44 }).map((token) => objectText([['sid', j(LIVE_SID)], ['token', j(token)], ['seq', '0']])), weight: 2 },
  // a session this server never had: a new session
  {
    arbitrary: fc.tuple(fc.string({ minLength: 1, maxLength: 21 }), fc.string({ maxLength: 44 }), fc.nat()).map(([sid, token, seq]) =>
      objectText([['sid', j(sid)], ['token', j(token)], ['seq', j(seq)]]),
    ),
    weight: 3,
  },
  { arbitrary: fc.constantFrom(...weirdValues), weight: 1 },
);

const NONCE_ALPHABET = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-'];

/** A hello that is valid or nearly so. */
const hello = fc
  .record(
    {
      v: fc.oneof({ arbitrary: fc.constant('1'), weight: 8 }, { arbitrary: fc.constantFrom('2', '0', '-1', '1.5', '"1"', 'null', '1e999', '9007199254740993'), weight: 1 }),
      auth,
      resume,
      win: fc.oneof({ arbitrary: fc.integer({ min: 1, max: 100_000 }).map(j), weight: 5 }, { arbitrary: fc.constantFrom('0', '-1', '1.5', '"8"', 'null'), weight: 1 }),
      // Offers with json (a session), without it (4406 from this JSON-only server), and malformed (4400).
      codecs: fc.oneof(
        { arbitrary: fc.constantFrom('["json"]', '["msgpack","json"]', '["json","x"]'), weight: 3 },
        { arbitrary: fc.constantFrom('["msgpack"]', '["x","y-2"]', '["jsonx"]'), weight: 2 },
        { arbitrary: fc.constantFrom('[]', '"json"', '["JSON"]', '[""]', 'null', `[${Array(9).fill('"json"').join(',')}]`, `["${'a'.repeat(33)}"]`), weight: 1 },
      ),
      // Random valid nonces (no two cases share one), and what is not one (4400).
      nonce: fc.oneof(
        { arbitrary: fc.string({ unit: fc.constantFrom(...NONCE_ALPHABET), minLength: 16, maxLength: 64 }).map(j), weight: 4 },
        { arbitrary: fc.constantFrom('"short"', `"${'n'.repeat(65)}"`, '"sixteen chars ok"', '1234567890123456', 'null', '["abcdefghijklmnop"]'), weight: 1 },
      ),
      extra: fc.tuple(fc.constantFrom('__proto__', 'constructor', 'prototype', 'x'), hostileJson),
      extra2: fc.boolean(),
    },
    { requiredKeys: ['v'] },
  )
  .map(({ v, auth: a, resume: r, win, codecs, nonce, extra, extra2 }) => {
    const entries: Array<[string, string]> = [['t', '"hello"'], ['v', v]];
    if (a !== undefined) entries.push(['auth', a]);
    if (r !== undefined) entries.push(['resume', r]);
    if (win !== undefined) entries.push(['win', win]);
    if (codecs !== undefined) entries.push(['codecs', codecs]);
    if (nonce !== undefined) entries.push(['nonce', nonce]);
    if (extra !== undefined && extra2 === true) entries.push(extra);
    return objectText(entries);
  });

/** The good client's identity with a forged token for its live session: the 4403 case, kept frequent. */
const forgedResumeOfGood = fc
  .string({ maxLength: 44 })
  .map((token) => objectText([['t', '"hello"'], ['v', '1'], ['auth', '{"user":"good"}'], ['resume', objectText([['sid', j(LIVE_SID)], ['token', j(token)], ['seq', '0']])]]));

/** Frames a client may send after hello, frames it may not, and junk: for batches and second messages. */
const clientFrame = fc.oneof(validFrames.msg!, validFrames.cack!, validFrames.got!, validFrames.ping!, validFrames.pong!).map(objectText);
const anyFrame = fc.oneof(
  { arbitrary: clientFrame, weight: 6 },
  { arbitrary: validFrames.bye!.map(objectText), weight: 1 },
  { arbitrary: fc.oneof(validFrames.ack!, validFrames.acks!, validFrames.welcome!).map(objectText), weight: 1 },
  { arbitrary: hello, weight: 1 },
);
const batch = (head: fc.Arbitrary<string>) =>
  fc.tuple(head, fc.array(anyFrame, { minLength: 1, maxLength: 4 })).map(([h, tail]) => `[${[h, ...tail].join(',')}]`);

const badUtf8 = fc
  .tuple(fc.string({ maxLength: 20 }), fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x28, 0xa1], [0xf8, 0x88, 0x80, 0x80, 0x80]))
  .map(([prefix, bytes]): RawMessage => ({ kind: 'bad-utf8', bytes: Buffer.concat([Buffer.from(`{"t":"hello","v":1,"x":"${prefix}`), Buffer.from(bytes), Buffer.from('"}')]) }));

const oversize = (max: number) =>
  fc.integer({ min: max + 1, max: max + 4_096 }).map((n) => text(`{"t":"msg","seq":1,"id":"a","ts":0,"d":"${'x'.repeat(n)}"}`));

const junk = junkMessage.map((m): RawMessage => (typeof m === 'string' ? text(m) : { kind: 'binary', bytes: m }));

export function firstMessage(maxPayloadBytes: number): fc.Arbitrary<RawMessage | undefined> {
  return fc.oneof(
    { arbitrary: hello.map(text), weight: 45 },
    { arbitrary: forgedResumeOfGood.map(text), weight: 3 },
    // authenticate throws (its backend is down): 1013, kept frequent enough to be seen every run
    { arbitrary: fc.constant(text('{"t":"hello","v":1,"auth":"throw"}')), weight: 2 },
    // refused: 4401 (once "throw" counted here too; it now gets 1013, so refusals are kept frequent)
    { arbitrary: fc.constantFrom('"deny"', 'null', 'false').map((a) => text(`{"t":"hello","v":1,"auth":${a}}`)), weight: 2 },
    { arbitrary: batch(hello).map(text), weight: 10 },
    { arbitrary: mutatedMessage.map(text), weight: 20 },
    { arbitrary: fc.oneof(anyFrame, batch(anyFrame)).map(text), weight: 6 },
    { arbitrary: junk, weight: 8 },
    { arbitrary: badUtf8, weight: 2 },
    { arbitrary: oversize(maxPayloadBytes), weight: 2 },
    { arbitrary: fc.integer({ min: 60, max: 5_000 }).map((n) => text(`{"t":"hello","v":1,"auth":${'['.repeat(n)}${']'.repeat(n)}}`)), weight: 2 },
    { arbitrary: fc.constant(undefined), weight: 1 },
  );
}

export function secondMessage(maxPayloadBytes: number): fc.Arbitrary<RawMessage | undefined> {
  return fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 10 },
    { arbitrary: fc.oneof(clientFrame, batch(clientFrame)).map(text), weight: 8 },
    { arbitrary: anyFrame.map(text), weight: 4 },
    { arbitrary: fc.constantFrom('{"t":"bye","code":1000,"reason":"done"}', '[{"t":"ping","ts":1},{"t":"bye","code":1000,"reason":""},{"t":"ack","seq":1,"r":1}]').map(text), weight: 1 },
    { arbitrary: mutatedMessage.map(text), weight: 4 },
    { arbitrary: junk, weight: 2 },
    { arbitrary: badUtf8, weight: 1 },
    { arbitrary: oversize(maxPayloadBytes), weight: 1 },
  );
}

/** Put the live session id where the generator left a placeholder. */
export function withLiveSid(m: RawMessage | undefined, sid: string): RawMessage | undefined {
  return m?.kind === 'text' && m.text.includes(LIVE_SID) ? text(m.text.split(LIVE_SID).join(sid)) : m;
}

/** A short description of a message for failure output. */
export function show(m: RawMessage | undefined): string {
  if (m === undefined) return '(nothing)';
  if (m.kind === 'text') return m.text.length > 300 ? `${JSON.stringify(m.text.slice(0, 300))}… (${m.text.length} chars)` : JSON.stringify(m.text);
  return `<${m.kind} ${Buffer.from(m.bytes).toString('hex').slice(0, 80)}>`;
}
