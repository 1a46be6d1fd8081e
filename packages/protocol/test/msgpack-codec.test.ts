import { decode as mpDecode, encode as mpEncode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { ProtocolError, jsonCodec, msgpackCodec, type Codec, type Frame } from '../src/index.js';
import { MAX_PAYLOAD_DEPTH } from '../src/internal.js';

const m = msgpackCodec;

function closeCode(fn: () => unknown): number {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    return (error as ProtocolError).closeCode;
  }
  throw new Error('expected a ProtocolError');
}

/** Every frame the encoder writes, built through a codec: the same calls for both codecs. */
function everyFrame<W>(c: Codec<W>): W[] {
  const v = (x: unknown) => c.value(x);
  return [
    c.msg(1, v('id-1'), 1732860000000, v({ op: 'buy', symbol: 'EURUSD', qty: 1000, price: 1.08345, neg: -5, big: 2 ** 40, nested: [[{ a: null }]] })),
    c.msg(70000, v('é✓'), 0.5, v(null)),
    c.ack(2, v({ ok: true })),
    c.ack(300, v('x'.repeat(300))),
    c.ackError(3, v({ code: 'E_FUNDS', message: 'no funds' })),
    c.acks(4, [v(1), v(null), v('x'), v([1, 2])]),
    c.acks(5, Array.from({ length: 20 }, (_, i) => v(i))),
    c.cack(0),
    c.cack(2 ** 33),
    c.got(0),
    c.got(2 ** 33),
    c.ping(1732860000000.25),
    c.pong(5, 6),
    c.bye(4410, 'done'),
    c.bye(1001, 'restart', 2000),
    c.sub('prices', { offset: 3, epoch: 'e1' }, 16),
    c.sub('prices'),
    c.unsub('prices'),
    c.pack('prices', 9),
    c.presence('room'),
    c.subok('prices', 9, 'e1', true),
    c.subok('prices', 0, 'e1'),
    c.suberr('prices', { code: 'E_DENIED', message: 'no' }),
    c.pub(v('prices'), 10, v('e1'), 123, v([1.5, 2])),
    c.pub(v('prices'), 11, v('e1'), 124, v({ bid: 1 }), v('p-11')),
    c.gap('prices', 3, 5, 'e1', 'evicted'),
    c.join(v('room'), v({ clientId: 'c', sessionId: 's' })),
    c.leave(v('room'), v({ clientId: 'c', sessionId: 's' })),
    c.members('room', [v({ clientId: 'c', sessionId: 's' }), v({ clientId: 'd', sessionId: 't' })]),
    c.members('room', []),
  ];
}

const jsonFrames = everyFrame(jsonCodec).map((text) => JSON.parse(text) as Frame);

/** A value nested `levels` deep (`[]` is 1). */
function nested(levels: number): unknown {
  let v: unknown = 'leaf';
  for (let i = 0; i < levels; i++) v = i % 2 === 0 ? [v] : { k: v };
  return v;
}

describe('msgpackCodec: frames', () => {
  it('every frame type round-trips to the frame the JSON codec writes for the same calls', () => {
    const units = everyFrame(m);
    expect(units.map((u) => m.decode(u))).toEqual(jsonFrames.map((f) => [f]));
    // Hand-written frames are plain MessagePack maps: the reference library reads them alike.
    expect(units.map((u) => mpDecode(u))).toEqual(jsonFrames);
  });

  it('a batch is an array of frames; a lone frame goes as it is', () => {
    const units = everyFrame(m);
    expect(m.decode(m.batch(units))).toEqual(jsonFrames);
    expect(m.batch([units[0]!])).toBe(units[0]);
    const many = Array.from({ length: 70_000 }, (_, i) => m.cack(i));
    expect(m.decode(m.batch(many.slice(0, 4096)))).toHaveLength(4096);
    expect(closeCode(() => m.decode(m.batch(many.slice(0, 4097))))).toBe(4400);
  });

  it('is binary, named msgpack, and sizes units in bytes', () => {
    expect(m.name).toBe('msgpack');
    expect(m.binary).toBe(true);
    expect(m.size(m.value('é'))).toBe(3);
  });

  it('encodes a short ASCII string (an id) to the bytes the library writes, and every other string through it', () => {
    const strings = ['', 'a', 'V1StGXR8_Z5jdHi6B-myT', 'x'.repeat(31), 'x'.repeat(32), '\u007f', 'é', 'a✓', '\u0000"\\'];
    for (const s of strings) expect(Buffer.from(m.value(s)).equals(Buffer.from(mpEncode(s))), JSON.stringify(s)).toBe(true);
  });

  it('embeds payload bytes as they are, without encoding them again', () => {
    const d = m.value({ a: 1 });
    const frame = m.msg(1, m.value('i'), 0, d);
    expect(Buffer.from(frame).includes(Buffer.from(d))).toBe(true);
  });

  it('accepts a browser ArrayBuffer and refuses text (4400)', () => {
    const unit = m.ping(1);
    expect(m.decode(unit.slice().buffer)).toEqual([{ t: 'ping', ts: 1 }]);
    expect(closeCode(() => m.decode('{"t":"ping","ts":1}'))).toBe(4400);
    expect(closeCode(() => m.decode(new Uint8Array(0)))).toBe(4400);
  });
});

describe('msgpackCodec: value()', () => {
  it('nests at most MAX_PAYLOAD_DEPTH levels, like JSON', () => {
    expect(() => m.value(nested(MAX_PAYLOAD_DEPTH))).not.toThrow();
    expect(() => m.value(nested(MAX_PAYLOAD_DEPTH + 1))).toThrow(TypeError);
    expect(() => jsonCodec.value(nested(MAX_PAYLOAD_DEPTH + 1))).toThrow(TypeError);
    expect(m.nestsWithin(m.value([[1]]), 2)).toBe(true);
    expect(m.nestsWithin(m.value([[1]]), 1)).toBe(false);
  });

  it('refuses with a TypeError what JSON would change or refuse: cycles, BigInt, undefined, Date, bytes, toJSON, NaN', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    for (const bad of [cycle, 1n, undefined, new Date(0), new Uint8Array(2), () => 1, { toJSON: () => 'x' }, NaN, [Infinity]]) expect(() => m.value(bad)).toThrow(TypeError);
  });

  it('drops undefined properties, writes undefined in arrays as null, and a Map as {}, as JSON does', () => {
    const v = { a: 1, b: undefined, c: [undefined], m: new Map([['k', 1]]) };
    expect(mpDecode(m.value(v))).toEqual(JSON.parse(JSON.stringify(v)));
  });
});

describe('msgpackCodec: decode bounds (4400, before anything is built)', () => {
  it('a frame nested past maxDepth is refused; at maxDepth it is accepted; a batch does not count', () => {
    const deep = (levels: number) => mpEncode({ t: 'msg', seq: 1, id: 'a', ts: 0, d: nested(levels) });
    expect(m.decode(deep(63))).toHaveLength(1);
    expect(closeCode(() => m.decode(deep(64)))).toBe(4400);
    const batch = (levels: number) => m.batch([deep(levels), m.cack(1)]);
    expect(m.decode(batch(63))).toHaveLength(2);
    expect(closeCode(() => m.decode(batch(64)))).toBe(4400);
    expect(closeCode(() => m.decode(m.msg(1, m.value('a'), 0, m.value(nested(10))), { maxDepth: 8, maxFrames: 1, maxIdLength: 8, maxStringLength: 8 }))).toBe(4400);
  });

  it('a million nested arrays (1 MB) are refused without a stack overflow', () => {
    const bytes = new Uint8Array(1_000_000).fill(0x91);
    expect(closeCode(() => m.decode(bytes))).toBe(4400);
  });

  it('huge lengths declared in headers are refused without allocating them', () => {
    const before = process.memoryUsage().heapUsed;
    const headers = [
      [0xdd, 0xff, 0xff, 0xff, 0xff], // array32 of 4 billion (a batch)
      [0x81, 0xa1, 0x64, 0xdd, 0xff, 0xff, 0xff, 0xff], // a map whose value is array32 of 4 billion
      [0x81, 0xa1, 0x64, 0xdf, 0xff, 0xff, 0xff, 0xff], // map32
      [0x81, 0xa1, 0x64, 0xdb, 0xff, 0xff, 0xff, 0xff], // str32
      [0x81, 0xa1, 0x64, 0xc6, 0xff, 0xff, 0xff, 0xff], // bin32
      [0x81, 0xa1, 0x64, 0xc9, 0xff, 0xff, 0xff, 0xff, 0x01], // ext32
      [0xdf, 0x00, 0x00, 0x00, 0x01], // map32 of one entry, truncated
    ];
    // 1 MiB of nested array 16 headers of 65,535 entries each, as a frame's `d`: @msgpack/msgpack
    // alone allocates every declared array and runs out of a 4 GB heap (bench, issue 14 report).
    const nestedArray16 = new Uint8Array(1 << 20);
    nestedArray16.set([0x81, 0xa1, 0x64]);
    for (let i = 3; i + 3 <= nestedArray16.length; i += 3) nestedArray16.set([0xdc, 0xff, 0xff], i);
    headers.push(Array.from(nestedArray16));
    for (const h of headers) expect(closeCode(() => m.decode(Uint8Array.from(h)))).toBe(4400);
    const grown = (process.memoryUsage().heapUsed - before) / 2 ** 20;
    console.log(`heap growth after refusing ${headers.length} messages declaring huge lengths: ${grown.toFixed(1)} MiB`);
    expect(grown).toBeLessThan(64);
  });

  it('refuses ext types, binary, non-string keys, __proto__ keys, NaN, the byte 0xc1, trailing bytes', () => {
    const frame = (d: number[]) => Uint8Array.from([0x85, ...m.value('t'), ...m.value('msg'), ...m.value('seq'), 1, ...m.value('id'), ...m.value('a'), ...m.value('ts'), 0, ...m.value('d'), ...d]);
    expect(m.decode(frame([0xc0]))).toEqual([{ t: 'msg', seq: 1, id: 'a', ts: 0, d: null }]);
    const refused = [
      [0xd6, 0xff, 0, 0, 0, 0], // timestamp ext
      [0xc4, 0x01, 0x00], // bin8
      [0x81, 0x01, 0x02], // int key
      [0x81, 0x80, 0x02], // map key
      [0x81, ...m.value('__proto__'), 0x81, ...m.value('polluted'), 0xc3],
      [0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0], // NaN
      [0xca, 0x7f, 0x80, 0, 0], // float32 Infinity
      [0xc1],
    ];
    for (const d of refused) expect(closeCode(() => m.decode(frame(d))), `d = ${d.map((x) => x.toString(16)).join(' ')}`).toBe(4400);
    expect(closeCode(() => m.decode(Uint8Array.from([...m.cack(1), 0xc0])))).toBe(4400);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('validates every frame as the JSON decoder does (the same validateFrame)', () => {
    expect(closeCode(() => m.decode(mpEncode({ t: 'msg', seq: 0, id: 'a', ts: 0, d: 1 })))).toBe(4400);
    expect(closeCode(() => m.decode(mpEncode({ t: 'nope' })))).toBe(4400);
    expect(closeCode(() => m.decode(mpEncode([1])))).toBe(4400);
    expect(closeCode(() => m.decode(mpEncode([])))).toBe(4400);
    expect(closeCode(() => m.decode(mpEncode({ t: 'hello', v: 2 })))).toBe(4406);
  });
});
