import { describe, expect, it } from 'vitest';
import { decode } from '../src/codec.js';
import { MAX_BATCHED_RESULT_DEPTH, MAX_PAYLOAD_DEPTH, errorValue, jsonEncoder as E, payloadDepthOk } from '../src/encoder.js';

// Each typed encoder must produce exactly the frame the decoder accepts, with the same fields a
// plain JSON.stringify of that frame would carry: no socket involved.
describe('jsonEncoder', () => {
  const cases: Array<[string, string, unknown]> = [
    ['msg', E.msg(3, E.value('id-1'), 1700, E.value({ a: [1, 'x'] })), { t: 'msg', seq: 3, id: 'id-1', ts: 1700, d: { a: [1, 'x'] } }],
    ['ack', E.ack(4, E.value(null)), { t: 'ack', seq: 4, r: null }],
    ['ack error', E.ackError(5, E.value(errorValue({ code: 'E', message: 'm' }))), { t: 'ack', seq: 5, e: { code: 'E', message: 'm' } }],
    ['acks', E.acks(6, [E.value(1), E.value('two')]), { t: 'acks', seq: 6, r: [1, 'two'] }],
    ['cack', E.cack(0), { t: 'cack', seq: 0 }],
    ['got', E.got(64), { t: 'got', seq: 64 }],
    ['welcome offering got', E.welcome({ v: 1, sid: 's', token: 'k', resumed: false, seq: 0, win: 2, hb: 3, max: 4, got: true }), { t: 'welcome', v: 1, sid: 's', token: 'k', resumed: false, seq: 0, win: 2, hb: 3, max: 4, got: true }],
    ['ping', E.ping(12), { t: 'ping', ts: 12 }],
    ['pong', E.pong(12, 14), { t: 'pong', ts: 12, at: 14 }],
    ['hello', E.hello({ v: 1, win: 8, resume: { sid: 's', token: 'k', seq: 2 } }), { t: 'hello', v: 1, resume: { sid: 's', token: 'k', seq: 2 }, win: 8 }],
    ['hello with codecs', E.hello({ v: 1, codecs: ['x-bin', 'json'] }), { t: 'hello', v: 1, codecs: ['x-bin', 'json'] }],
    ['hello with a nonce', E.hello({ v: 1, nonce: 'V1StGXR8_Z5jdHi6B-myT' }), { t: 'hello', v: 1, nonce: 'V1StGXR8_Z5jdHi6B-myT' }],
    ['welcome with a codec', E.welcome({ v: 1, sid: 's', token: 'k', resumed: false, seq: 0, win: 2, hb: 3, max: 4, codec: 'json' }), { t: 'welcome', v: 1, sid: 's', token: 'k', resumed: false, seq: 0, win: 2, hb: 3, max: 4, codec: 'json' }],
    ['welcome', E.welcome({ v: 1, sid: 's', token: 'k', resumed: true, seq: 1, win: 2, hb: 3, max: 4096 }), { t: 'welcome', v: 1, sid: 's', token: 'k', resumed: true, seq: 1, win: 2, hb: 3, max: 4096 }],
    ['bye', E.bye(1001, 'going', 500), { t: 'bye', code: 1001, reason: 'going', retryMs: 500 }],
    ['bye without retryMs', E.bye(1000, 'done'), { t: 'bye', code: 1000, reason: 'done' }],
  ];
  for (const [name, encoded, frame] of cases) {
    it(`encodes ${name} as the decoder reads it`, () => {
      expect(JSON.parse(encoded)).toEqual(frame);
      expect(decode(encoded)).toEqual([frame]);
    });
  }

  it('batches frames into one message the decoder splits again', () => {
    const one = E.cack(1);
    expect(E.batch([one])).toBe(one);
    expect(decode(E.batch([one, E.ping(2)]))).toEqual([{ t: 'cack', seq: 1 }, { t: 'ping', ts: 2 }]);
  });

  it('joins many frames into one JSON array, leaving the frames it was given as they were', () => {
    const frames = Array.from({ length: 300 }, (_, i) => E.cack(i));
    const copy = frames.slice();
    const message = E.batch(frames);
    expect(message).toBe(`[${copy.join(',')}]`);
    expect(frames).toEqual(copy);
    expect(decode(message)).toEqual(copy.map((_, i) => ({ t: 'cack', seq: i })));
  });

  it('encodes a payload once and embeds it as it is', () => {
    const d = E.value({ text: 'quote " and \\ and \u2028' });
    expect(decode(E.msg(1, E.value('x'), 0, d))[0]).toMatchObject({ d: { text: 'quote " and \\ and \u2028' } });
  });

  it('refuses what JSON cannot carry, with a TypeError', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => E.value(undefined)).toThrow(TypeError);
    expect(() => E.value(() => 1)).toThrow(TypeError);
    expect(() => E.value(cyclic)).toThrow(TypeError);
    expect(() => E.value(10n)).toThrow(TypeError);
  });

  it('never writes a non-finite number the decoder would refuse', () => {
    expect(decode(E.ping(Number.NaN))).toEqual([{ t: 'ping', ts: 0 }]);
    expect(decode(E.pong(Infinity, 1))).toEqual([{ t: 'pong', ts: 0, at: 1 }]);
  });

  it('cuts a bye reason to the bound the decoder enforces', () => {
    const [bye] = decode(E.bye(1001, 'r'.repeat(5000)));
    expect(bye).toMatchObject({ t: 'bye', code: 1001 });
    expect((bye as { reason: string }).reason).toHaveLength(1024);
  });
});

describe('payload depth on the sending side', () => {
  /** A value nested `levels` deep (`[]` is 1). */
  const nested = (levels: number): unknown => {
    let v: unknown = 0;
    for (let i = 0; i < levels; i++) v = i % 2 === 0 ? [v] : { k: v };
    return v;
  };

  it('value() takes 63 levels, which fit msg.d and ack.r, and refuses 64 with a TypeError', () => {
    const d = E.value(nested(MAX_PAYLOAD_DEPTH));
    expect(decode(E.msg(1, E.value('a'), 0, d))).toHaveLength(1);
    expect(decode(E.ack(1, d))).toHaveLength(1);
    expect(() => E.value(nested(MAX_PAYLOAD_DEPTH + 1))).toThrow(TypeError);
    expect(payloadDepthOk(JSON.stringify(nested(MAX_PAYLOAD_DEPTH + 1)))).toBe(false);
    expect(payloadDepthOk(d)).toBe(true);
  });

  it('acks.r takes 62 levels per entry, and nestsWithin tells which results do', () => {
    const ok = E.value(nested(MAX_BATCHED_RESULT_DEPTH));
    const deep = E.value(nested(MAX_PAYLOAD_DEPTH));
    expect(E.nestsWithin(ok, MAX_BATCHED_RESULT_DEPTH)).toBe(true);
    expect(E.nestsWithin(deep, MAX_BATCHED_RESULT_DEPTH)).toBe(false);
    expect(decode(E.acks(1, [ok, ok]))).toHaveLength(1);
    expect(() => decode(E.acks(1, [deep]))).toThrow(/nested deeper/);
    // Alone in a batch, a 63-level ack is still one the decoder takes: the batch array does not count.
    expect(decode(E.batch([E.ack(1, deep), E.cack(0)]))).toHaveLength(2);
  });

  it('counts brackets inside strings as text, not nesting', () => {
    expect(E.nestsWithin(E.value('['.repeat(500)), 0)).toBe(true);
  });
});

describe('jsonEncoder: channel frames', () => {
  const member = { clientId: 'c1', sessionId: 's1', identity: { user: 'ann' } };
  const ch = E.value('room:42');
  const cases: Array<[string, string, unknown]> = [
    ['sub', E.sub('room:42'), { t: 'sub', ch: 'room:42' }],
    ['sub since', E.sub('room:42', { offset: 5, epoch: 'e' }, 32), { t: 'sub', ch: 'room:42', since: { offset: 5, epoch: 'e' }, win: 32 }],
    ['unsub', E.unsub('room:42'), { t: 'unsub', ch: 'room:42' }],
    ['pack', E.pack('room:42', 12), { t: 'pack', ch: 'room:42', offset: 12 }],
    ['presence', E.presence('room:42'), { t: 'presence', ch: 'room:42' }],
    ['subok', E.subok('room:42', 3, 'e'), { t: 'subok', ch: 'room:42', offset: 3, epoch: 'e' }],
    ['subok recovered', E.subok('room:42', 3, 'e', false), { t: 'subok', ch: 'room:42', offset: 3, epoch: 'e', recovered: false }],
    ['subok win', E.subok('room:42', 3, 'e', undefined, 8), { t: 'subok', ch: 'room:42', offset: 3, epoch: 'e', win: 8 }],
    ['suberr', E.suberr('room:42', { code: 'ERR_UNAUTHORIZED', message: 'no' }), { t: 'suberr', ch: 'room:42', code: 'ERR_UNAUTHORIZED', message: 'no' }],
    ['pub', E.pub(ch, 1, E.value('e'), 1700, E.value({ a: 1 })), { t: 'pub', ch: 'room:42', offset: 1, epoch: 'e', ts: 1700, d: { a: 1 } }],
    ['pub with id', E.pub(ch, 2, E.value('e'), 1700, E.value(null), E.value('p"2')), { t: 'pub', ch: 'room:42', offset: 2, epoch: 'e', id: 'p"2', ts: 1700, d: null }],
    ['gap', E.gap('room:42', 4, 9, 'e', 'evicted'), { t: 'gap', ch: 'room:42', from: 4, to: 9, epoch: 'e', reason: 'evicted' }],
    ['join', E.join(ch, E.value(member)), { t: 'join', ch: 'room:42', member }],
    ['leave', E.leave(ch, E.value(member)), { t: 'leave', ch: 'room:42', member }],
    ['members', E.members('room:42', [E.value(member)]), { t: 'members', ch: 'room:42', members: [member] }],
    ['members, none', E.members('room:42', []), { t: 'members', ch: 'room:42', members: [] }],
  ];
  for (const [name, encoded, frame] of cases) {
    it(`encodes ${name} as the decoder reads it`, () => {
      expect(JSON.parse(encoded)).toEqual(frame);
      expect(decode(encoded)).toEqual([frame]);
    });
  }

  it('builds one pub unit from parts encoded once, whatever the number of subscribers', () => {
    const d = E.value({ price: 101.5, book: [[1, 2]] });
    const unit = E.pub(ch, 7, E.value('e'), 5, d);
    // Every subscriber's socket gets this very string; nothing in it is per subscriber.
    const batches = [E.batch([unit, E.cack(1)]), E.batch([E.ping(1), unit])];
    for (const message of batches) expect(decode(message).filter((f) => f.t === 'pub')).toEqual([JSON.parse(unit)]);
  });
});
