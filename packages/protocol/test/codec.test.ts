import { describe, expect, it } from 'vitest';
import {
  CloseCode,
  LifelineError,
  ProtocolError,
  RESULT_EVICTED,
  RemoteError,
  ResultEvictedError,
  jsonCodec,
  type Frame,
} from '../src/index.js';
import { decode, decodeDefaults, encodeMsg } from '../src/internal.js';

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
    { t: 'hello', v: 1, codecs: ['msgpack-2', 'json'] },
    { t: 'hello', v: 1, nonce: 'V1StGXR8_Z5jdHi6B-myT' },
    { t: 'welcome', v: 1, sid: 's', token: 't', resumed: false, seq: 0, win: 1024, hb: 15000, max: 1048576 },
    { t: 'welcome', v: 1, sid: 's', token: 't', resumed: false, seq: 0, win: 1024, hb: 15000, max: 1048576, codec: 'json' },
    { t: 'msg', seq: 1, id: 'a', ts: 1732860000000, d: { op: 'buy', qty: 1 } },
    { t: 'msg', seq: 2, id: 'b', ts: 0, d: null },
    { t: 'ack', seq: 1, r: { ok: true } },
    { t: 'ack', seq: 1, r: null },
    { t: 'ack', seq: 2, e: { code: 'E_FUNDS', message: 'no funds' } },
    { t: 'acks', seq: 3, r: [1, null, 'x'] },
    { t: 'cack', seq: 0 },
    { t: 'got', seq: 64 },
    { t: 'welcome', v: 1, sid: 's', token: 't', resumed: false, seq: 0, win: 1024, hb: 15000, max: 1048576, got: true },
    { t: 'ping', ts: 5 },
    { t: 'pong', ts: 5, at: 6 },
    { t: 'bye', code: 1001, reason: 'restart', retryMs: 2000 },
  ];
  it.each(valid.map((f) => [f.t, f] as const))('round-trips %s', (_t, frame) => {
    expect(decode(JSON.stringify(frame))).toEqual([frame]);
  });

  it('decodes a batch in order', () => {
    const text = jsonCodec.batch(valid.map((f) => JSON.stringify(f)));
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
    ['got with a negative seq', '{"t":"got","seq":-1}', CloseCode.BadFrame],
    ['welcome.got not a boolean', '{"t":"welcome","v":1,"sid":"s","token":"t","resumed":false,"seq":0,"win":1,"hb":1,"max":1,"got":1}', CloseCode.BadFrame],
    ['pong without at', '{"t":"pong","ts":1}', CloseCode.BadFrame],
    ['hello without v', '{"t":"hello"}', CloseCode.UnsupportedVersion],
    ['hello v as a string', '{"t":"hello","v":"1"}', CloseCode.UnsupportedVersion],
    ['hello v fractional', '{"t":"hello","v":1.5}', CloseCode.UnsupportedVersion],
    ['hello v 0', '{"t":"hello","v":0}', CloseCode.UnsupportedVersion],
    ['hello v negative', '{"t":"hello","v":-1}', CloseCode.UnsupportedVersion],
    ['hello v null', '{"t":"hello","v":null}', CloseCode.UnsupportedVersion],
    ['hello v an object', '{"t":"hello","v":{"major":1}}', CloseCode.UnsupportedVersion],
    ['hello from the future', '{"t":"hello","v":2}', CloseCode.UnsupportedVersion],
    ['hello.nonce too short', '{"t":"hello","v":1,"nonce":"abc"}', CloseCode.BadFrame],
    ['hello.nonce too long', `{"t":"hello","v":1,"nonce":"${'n'.repeat(65)}"}`, CloseCode.BadFrame],
    ['hello.nonce with a space', '{"t":"hello","v":1,"nonce":"sixteen chars ok"}', CloseCode.BadFrame],
    ['hello.nonce a number', '{"t":"hello","v":1,"nonce":1234567890123456}', CloseCode.BadFrame],
    ['hello of another version with fields this one refuses', '{"t":"hello","v":"2.0","win":"all"}', CloseCode.UnsupportedVersion],
    ['hello v 1 with a bad field', '{"t":"hello","v":1,"win":"all"}', CloseCode.BadFrame],
    ['hello.resume without token', '{"t":"hello","v":1,"resume":{"sid":"s","seq":0}}', CloseCode.BadFrame],
    ['hello.win zero', '{"t":"hello","v":1,"win":0}', CloseCode.BadFrame],
    ['hello.codecs not an array', '{"t":"hello","v":1,"codecs":"json"}', CloseCode.BadFrame],
    ['hello.codecs empty', '{"t":"hello","v":1,"codecs":[]}', CloseCode.BadFrame],
    ['hello.codecs of 9 names', `{"t":"hello","v":1,"codecs":${JSON.stringify(Array.from({ length: 9 }, (_, i) => `c${i}`))}}`, CloseCode.BadFrame],
    ['hello.codecs with a name of 33 characters', `{"t":"hello","v":1,"codecs":["${'a'.repeat(33)}"]}`, CloseCode.BadFrame],
    ['hello.codecs with an upper-case name', '{"t":"hello","v":1,"codecs":["JSON"]}', CloseCode.BadFrame],
    ['hello.codecs with an empty name', '{"t":"hello","v":1,"codecs":[""]}', CloseCode.BadFrame],
    ['hello.codecs with a number', '{"t":"hello","v":1,"codecs":[1]}', CloseCode.BadFrame],
    ['hello.codecs null', '{"t":"hello","v":1,"codecs":null}', CloseCode.BadFrame],
    ['welcome.codec not a name', '{"t":"welcome","v":1,"sid":"s","token":"t","resumed":false,"seq":0,"win":1,"hb":1,"max":1,"codec":"js on"}', CloseCode.BadFrame],
    ['welcome.codec null', '{"t":"welcome","v":1,"sid":"s","token":"t","resumed":false,"seq":0,"win":1,"hb":1,"max":1,"codec":null}', CloseCode.BadFrame],
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

describe('decode: nesting depth is a per-frame bound', () => {
  /** A msg frame nested exactly `levels` deep, its own object counting as level 1. */
  const frameOfDepth = (levels: number) => `{"t":"msg","seq":1,"id":"a","ts":1,"d":${'['.repeat(levels - 1)}${']'.repeat(levels - 1)}}`;
  const ping = '{"t":"ping","ts":1}';
  const max = decodeDefaults.maxDepth;

  it(`accepts a ${max}-level frame alone and in a batch`, () => {
    expect(decode(frameOfDepth(max))).toHaveLength(1);
    expect(decode(`[${frameOfDepth(max)}]`)).toHaveLength(1);
    expect(decode(`[${ping},${frameOfDepth(max)},${ping}]`)).toHaveLength(3);
    expect(decode(` \n\t[${frameOfDepth(max)}]`)).toHaveLength(1);
  });

  it(`refuses a ${max + 1}-level frame alone and in a batch`, () => {
    for (const text of [frameOfDepth(max + 1), `[${frameOfDepth(max + 1)}]`, `[${ping},${frameOfDepth(max + 1)}]`, ` \r\n[${frameOfDepth(max + 1)}]`]) {
      const error = protocolError(() => decode(text));
      expect(error.closeCode).toBe(CloseCode.BadFrame);
      expect(error.message).toMatch(`deeper than ${max} levels`);
    }
  });

  it('checks the depth before JSON.parse, in both forms', () => {
    // Deep enough to overflow JSON.parse's stack: refused by the scan, never a RangeError.
    const deep = '['.repeat(1_000_000);
    expect(protocolError(() => decode(deep)).closeCode).toBe(CloseCode.BadFrame);
    expect(protocolError(() => decode(`{"t":"msg","seq":1,"id":"a","ts":1,"d":${deep}`)).closeCode).toBe(CloseCode.BadFrame);
  });

  it('follows a lower maxDepth the same way', () => {
    const limits = { ...decodeDefaults, maxDepth: 3 };
    expect(decode(frameOfDepth(3), limits)).toHaveLength(1);
    expect(decode(`[${frameOfDepth(3)}]`, limits)).toHaveLength(1);
    expect(protocolError(() => decode(frameOfDepth(4), limits)).closeCode).toBe(CloseCode.BadFrame);
    expect(protocolError(() => decode(`[${frameOfDepth(4)}]`, limits)).closeCode).toBe(CloseCode.BadFrame);
  });
});

describe('hello.v: anything but the integer 1 is a version problem', () => {
  it('refuses with 4406 before looking at any other field, and names what was sent', () => {
    const error = protocolError(() => decode('{"t":"hello","v":"1","resume":"not an object"}'));
    expect(error.closeCode).toBe(CloseCode.UnsupportedVersion);
    expect(error.message).toMatch('"1"');
    expect(protocolError(() => decode(`{"t":"hello","v":"${'9'.repeat(10_000)}"}`)).message.length).toBeLessThan(200);
  });

  it('applies inside a batch too', () => {
    expect(protocolError(() => decode('[{"t":"hello","v":1.5},{"t":"ping","ts":1}]')).closeCode).toBe(CloseCode.UnsupportedVersion);
  });
});

describe('ResultEvictedError', () => {
  it('is a RemoteError with its own code, so "processed, result unknown" is told apart from "the handler threw"', () => {
    const error = new ResultEvictedError('gone');
    expect(error).toBeInstanceOf(RemoteError);
    expect(error).toBeInstanceOf(LifelineError);
    expect(error.code).toBe('ERR_RESULT_EVICTED');
    expect(error.remoteCode).toBe(RESULT_EVICTED);
    expect(error.name).toBe('ResultEvictedError');
    expect(new RemoteError('E', 'm').code).toBe('ERR_REMOTE');
  });
});

describe('channel frames (protocol v1 additions)', () => {
  const member = { clientId: 'c1', sessionId: 's1', identity: { user: 'ann' } };
  const valid: Frame[] = [
    { t: 'sub', ch: 'room:42' },
    { t: 'sub', ch: 'a', since: { offset: 0, epoch: 'e' }, win: 64 },
    { t: 'sub', ch: 'prices/EURUSD', since: { offset: 120, epoch: 'V1StGXR8_Z5jdHi6B-myT' } },
    { t: 'unsub', ch: 'user#7' },
    { t: 'pack', ch: 'orders@desk=fx', offset: 0 },
    { t: 'pack', ch: 'x.y-z_1', offset: 9 },
    { t: 'presence', ch: 'room:42' },
    { t: 'subok', ch: 'room:42', offset: 0, epoch: 'e' },
    { t: 'subok', ch: 'room:42', offset: 7, epoch: 'e', recovered: true },
    { t: 'subok', ch: 'room:42', offset: 7, epoch: 'e', win: 8 },
    { t: 'suberr', ch: 'room:42', code: 'ERR_UNAUTHORIZED', message: 'not a member' },
    { t: 'pub', ch: 'room:42', offset: 1, epoch: 'e', ts: 1732860000000, d: { text: 'hi' } },
    { t: 'pub', ch: 'room:42', offset: 2, epoch: 'e', id: 'p-2', ts: 0, d: null },
    { t: 'gap', ch: 'room:42', from: 3, to: 9, epoch: 'e', reason: 'evicted' },
    { t: 'gap', ch: 'room:42', from: 1, to: 0, epoch: 'f', reason: 'epoch' },
    { t: 'join', ch: 'room:42', member },
    { t: 'leave', ch: 'room:42', member: { clientId: 'c2', sessionId: 's2' } },
    { t: 'members', ch: 'room:42', members: [member, { clientId: 'c2', sessionId: 's2' }] },
    { t: 'members', ch: 'room:42', members: [] },
  ];
  it.each(valid.map((f, i) => [`${f.t} #${i}`, f] as const))('round-trips %s', (_t, frame) => {
    expect(decode(JSON.stringify(frame))).toEqual([frame]);
  });

  it('accepts every allowed character and names of 1 and 255 characters', () => {
    const all = 'ABCXYZabcxyz0189_:.-@/#=';
    for (const ch of [all, 'a', 'n'.repeat(255)]) expect(decode(JSON.stringify({ t: 'unsub', ch }))).toHaveLength(1);
  });

  const ch = '"ch":"room:42"';
  const bad: Array<[string, string]> = [
    ['sub without ch', '{"t":"sub"}'],
    ['an empty channel name', '{"t":"sub","ch":""}'],
    ['a channel name of 256 characters', `{"t":"sub","ch":"${'n'.repeat(256)}"}`],
    ['a channel name with a space', '{"t":"sub","ch":"room 42"}'],
    ['a channel name with a quote', '{"t":"sub","ch":"room\\"42"}'],
    ['a channel name with a non-ASCII letter', '{"t":"sub","ch":"r\u00f6om"}'],
    ['a channel name with a star', '{"t":"sub","ch":"room:*"}'],
    ['a channel name that is a number', '{"t":"sub","ch":42}'],
    ['sub.since not an object', `{"t":"sub",${ch},"since":5}`],
    ['sub.since without epoch', `{"t":"sub",${ch},"since":{"offset":1}}`],
    ['sub.since with an empty epoch', `{"t":"sub",${ch},"since":{"offset":1,"epoch":""}}`],
    ['sub.since with a long epoch', `{"t":"sub",${ch},"since":{"offset":1,"epoch":"${'e'.repeat(65)}"}}`],
    ['sub.since.offset negative', `{"t":"sub",${ch},"since":{"offset":-1,"epoch":"e"}}`],
    ['sub.since null', `{"t":"sub",${ch},"since":null}`],
    ['sub.win zero', `{"t":"sub",${ch},"win":0}`],
    ['pack without offset', `{"t":"pack",${ch}}`],
    ['pack.offset fractional', `{"t":"pack",${ch},"offset":1.5}`],
    ['subok without epoch', `{"t":"subok",${ch},"offset":0}`],
    ['subok.recovered a string', `{"t":"subok",${ch},"offset":0,"epoch":"e","recovered":"yes"}`],
    ['subok.win 0', `{"t":"subok",${ch},"offset":0,"epoch":"e","win":0}`],
    ['suberr without message', `{"t":"suberr",${ch},"code":"E"}`],
    ['pub.offset 0', `{"t":"pub",${ch},"offset":0,"epoch":"e","ts":1,"d":1}`],
    ['pub without d', `{"t":"pub",${ch},"offset":1,"epoch":"e","ts":1}`],
    ['pub with an empty id', `{"t":"pub",${ch},"offset":1,"epoch":"e","id":"","ts":1,"d":1}`],
    ['pub.id null', `{"t":"pub",${ch},"offset":1,"epoch":"e","id":null,"ts":1,"d":1}`],
    ['pub.ts negative', `{"t":"pub",${ch},"offset":1,"epoch":"e","ts":-1,"d":1}`],
    ['gap.from 0', `{"t":"gap",${ch},"from":0,"to":0,"epoch":"e","reason":"epoch"}`],
    ['gap.to below from - 1', `{"t":"gap",${ch},"from":5,"to":3,"epoch":"e","reason":"evicted"}`],
    ['gap with an empty reason', `{"t":"gap",${ch},"from":1,"to":1,"epoch":"e","reason":""}`],
    ['gap with a long reason', `{"t":"gap",${ch},"from":1,"to":1,"epoch":"e","reason":"${'r'.repeat(65)}"}`],
    ['join without member', `{"t":"join",${ch}}`],
    ['join.member without sessionId', `{"t":"join",${ch},"member":{"clientId":"c"}}`],
    ['leave.member with an empty clientId', `{"t":"leave",${ch},"member":{"clientId":"","sessionId":"s"}}`],
    ['members not an array', `{"t":"members",${ch},"members":{}}`],
    ['members with a bad member', `{"t":"members",${ch},"members":[{"clientId":"c","sessionId":"s"},null]}`],
    ['ch only under __proto__', '{"t":"unsub","__proto__":{"ch":"room:42"}}'],
  ];
  it.each(bad)('refuses %s with 4400', (_name, input) => {
    expect(protocolError(() => decode(input)).closeCode).toBe(CloseCode.BadFrame);
  });
});
