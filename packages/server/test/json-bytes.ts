import { CloseCode, ProtocolError, jsonCodec, type Codec, type DecodeLimits } from '@lifeline/protocol';

/**
 * A second codec for tests: JSON text carried in WebSocket binary messages. Its units are bytes,
 * so any frame written around the codec (a hand-made string) shows up on the wire as a text
 * message where a binary one was due.
 */
const utf8 = (text: string): Buffer => Buffer.from(text);
const text = (unit: Buffer): string => unit.toString();

export const jsonBytes: Codec<Buffer> = {
  name: 'json-bytes',
  binary: true,
  value: (v) => utf8(jsonCodec.value(v)),
  nestsWithin: (unit, levels) => jsonCodec.nestsWithin(text(unit), levels),
  msg: (seq, id, ts, d) => utf8(jsonCodec.msg(seq, text(id), ts, text(d))),
  ack: (seq, r) => utf8(jsonCodec.ack(seq, text(r))),
  ackError: (seq, e) => utf8(jsonCodec.ackError(seq, text(e))),
  acks: (seq, r) => utf8(jsonCodec.acks(seq, r.map(text))),
  cack: (seq) => utf8(jsonCodec.cack(seq)),
  ping: (ts) => utf8(jsonCodec.ping(ts)),
  pong: (ts, at) => utf8(jsonCodec.pong(ts, at)),
  bye: (code, reason, retryMs) => utf8(jsonCodec.bye(code, reason, retryMs)),
  batch: (frames) => utf8(jsonCodec.batch(frames.map(text))),
  size: (unit) => unit.length,
  decode(message: unknown, limits?: DecodeLimits) {
    if (!Buffer.isBuffer(message)) throw new ProtocolError('a text message on a json-bytes connection', CloseCode.BadFrame);
    return jsonCodec.decode(text(message), limits);
  },
};
