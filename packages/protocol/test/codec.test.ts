import { describe, expect, it } from 'vitest';
import { CloseCode, ProtocolError, decode, encodeMsg, joinFrames, jsonCodec, type Frame } from '../src/index.js';

function protocolError(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    return error as ProtocolError;
  }
  throw new Error('expected a ProtocolError');
}

describe('decode: valid frames', () => {
  const valid: Frame[] = [
    { t: 'hello', v: 1 },
    { t: 'hello', v: 1, auth: { token: 'x' }, win: 16, resume: { sid: 's', token: 't', seq: 0 } },
    { t: 'welcome', v: 1, sid: 's', token: 't', resumed: false, seq: 0, win: 1024, hb: 15000, max: 1048576 },
    { t: 'msg', seq: 1, id: 'a', ts: 1732860000000, d: { op: 'buy', qty: 1 } },
    { t: 'msg', seq: 2, id: 'b', ts: 0, d: null },
    { t: 'ack', seq: 1, r: { ok: true } },
    { t: 'ack', seq: 1, r: null },
    { t: 'ack', seq: 2, e: { code: 'E_FUNDS', message: 'no funds' } },
    { t: 'acks', seq: 3, r: [1, null, 'x'] },
    { t: 'cack', seq: 0 },
    { t: 'ping', ts: 5 },
    { t: 'pong', ts: 5, at: 6 },
    { t: 'bye', code: 1001, reason: 'restart', retryMs: 2000 },
  ];
  it.each(valid.map((f) => [f.t, f] as const))('round-trips %s', (_t, frame) => {
    expect(decode(jsonCodec.encode(frame))).toEqual([frame]);
  });

  it('decodes a batch in order', () => {
    const text = joinFrames(valid.map((f) => jsonCodec.encode(f)));
    expect(decode(text)).toEqual(valid);
  });

  it('encodeMsg builds the same frame as JSON.stringify', () => {
    const text = encodeMsg(7, JSON.stringify('id"1'), 123, JSON.stringify({ a: [1, 2] }));
    expect(JSON.parse(text)).toEqual({ t: 'msg', seq: 7, id: 'id"1', ts: 123, d: { a: [1, 2] } });
    expect(decode(text)).toHaveLength(1);
  });

  it('ignores unknown extra fields in a known frame', () => {
    expect(decode('{"t":"ping","ts":1,"x":2}')).toHaveLength(1);
  });

  it('keeps __proto__ as plain data without polluting prototypes', () => {
    const [frame] = decode('{"t":"msg","seq":1,"id":"p","ts":1,"d":{"__proto__":{"polluted":true}}}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call((frame as { d: object }).d, '__proto__')).toBe(true);
  });
});

describe('decode: refusals carry a close code', () => {
  const bad: Array<[string, unknown, number]> = [
    ['non-JSON', 'not json', CloseCode.BadFrame],
    ['binary', new Uint8Array([1, 2, 3]), CloseCode.BadFrame],
    ['a JSON number', '42', CloseCode.BadFrame],
    ['null', 'null', CloseCode.BadFrame],
    ['an empty batch', '[]', CloseCode.BadFrame],
    ['a frame without t', '{"seq":1}', CloseCode.BadFrame],
    ['an unknown type', '{"t":"nope"}', CloseCode.BadFrame],
    ['t of the wrong type', '{"t":5}', CloseCode.BadFrame],
    ['msg.seq a string', '{"t":"msg","seq":"1","id":"a","ts":1,"d":1}', CloseCode.BadFrame],
    ['msg.seq 0', '{"t":"msg","seq":0,"id":"a","ts":1,"d":1}', CloseCode.BadFrame],
    ['msg.seq fractional', '{"t":"msg","seq":1.5,"id":"a","ts":1,"d":1}', CloseCode.BadFrame],
    ['msg.seq past 2^53', '{"t":"msg","seq":9007199254740993,"id":"a","ts":1,"d":1}', CloseCode.BadFrame],
    ['msg.seq negative', '{"t":"msg","seq":-1,"id":"a","ts":1,"d":1}', CloseCode.BadFrame],
    ['msg without d', '{"t":"msg","seq":1,"id":"a","ts":1}', CloseCode.BadFrame],
    ['msg with an empty id', '{"t":"msg","seq":1,"id":"","ts":1,"d":1}', CloseCode.BadFrame],
    ['msg with a long id', `{"t":"msg","seq":1,"id":"${'x'.repeat(129)}","ts":1,"d":1}`, CloseCode.BadFrame],
    ['msg.ts a string', '{"t":"msg","seq":1,"id":"a","ts":"now","d":1}', CloseCode.BadFrame],
    ['ack with both r and e', '{"t":"ack","seq":1,"r":1,"e":{"code":"x","message":"y"}}', CloseCode.BadFrame],
    ['ack with neither', '{"t":"ack","seq":1}', CloseCode.BadFrame],
    ['ack.e without code', '{"t":"ack","seq":1,"e":{"message":"y"}}', CloseCode.BadFrame],
    ['acks with an empty r', '{"t":"acks","seq":1,"r":[]}', CloseCode.BadFrame],
    ['cack without seq', '{"t":"cack"}', CloseCode.BadFrame],
    ['pong without at', '{"t":"pong","ts":1}', CloseCode.BadFrame],
    ['hello without v', '{"t":"hello"}', CloseCode.BadFrame],
    ['hello v as a string', '{"t":"hello","v":"1"}', CloseCode.BadFrame],
    ['hello from the future', '{"t":"hello","v":2}', CloseCode.UnsupportedVersion],
    ['hello.resume without token', '{"t":"hello","v":1,"resume":{"sid":"s","seq":0}}', CloseCode.BadFrame],
    ['hello.win zero', '{"t":"hello","v":1,"win":0}', CloseCode.BadFrame],
    ['bye.code too big', '{"t":"bye","code":70000,"reason":""}', CloseCode.BadFrame],
    ['deep nesting', `{"t":"msg","seq":1,"id":"a","ts":1,"d":${'['.repeat(200)}${']'.repeat(200)}}`, CloseCode.BadFrame],
    ['a frame inside a batch that is bad', '[{"t":"ping","ts":1},{"t":"ping"}]', CloseCode.BadFrame],
    ['a nested batch', '[[{"t":"ping","ts":1}]]', CloseCode.BadFrame],
  ];
  it.each(bad)('%s', (_name, input, code) => {
    expect(protocolError(() => decode(input)).closeCode).toBe(code);
  });

  it('brackets inside strings do not count as nesting', () => {
    const d = JSON.stringify('['.repeat(500));
    expect(decode(`{"t":"msg","seq":1,"id":"a","ts":1,"d":${d}}`)).toHaveLength(1);
  });

  it('bounds the frames in a batch', () => {
    const text = `[${Array.from({ length: 5 }, () => '{"t":"ping","ts":1}').join(',')}]`;
    const limits = { maxFrames: 4, maxDepth: 64, maxIdLength: 128, maxStringLength: 1024 };
    expect(protocolError(() => decode(text, limits)).message).toMatch(/more than 4 frames/);
  });
});
