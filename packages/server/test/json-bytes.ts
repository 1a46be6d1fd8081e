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
  got: (seq) => utf8(jsonCodec.got(seq)),
  ping: (ts) => utf8(jsonCodec.ping(ts)),
  pong: (ts, at) => utf8(jsonCodec.pong(ts, at)),
  bye: (code, reason, retryMs) => utf8(jsonCodec.bye(code, reason, retryMs)),
  sub: (ch, since, win) => utf8(jsonCodec.sub(ch, since, win)),
  unsub: (ch) => utf8(jsonCodec.unsub(ch)),
  pack: (ch, offset) => utf8(jsonCodec.pack(ch, offset)),
  presence: (ch) => utf8(jsonCodec.presence(ch)),
  subok: (ch, offset, epoch, recovered) => utf8(jsonCodec.subok(ch, offset, epoch, recovered)),
  suberr: (ch, error) => utf8(jsonCodec.suberr(ch, error)),
  pub: (ch, offset, epoch, ts, d, id) => utf8(jsonCodec.pub(text(ch), offset, text(epoch), ts, text(d), id === undefined ? undefined : text(id))),
  gap: (ch, from, to, epoch, reason) => utf8(jsonCodec.gap(ch, from, to, epoch, reason)),
  join: (ch, member) => utf8(jsonCodec.join(text(ch), text(member))),
  leave: (ch, member) => utf8(jsonCodec.leave(text(ch), text(member))),
  members: (ch, members) => utf8(jsonCodec.members(ch, members.map(text))),
  batch: (frames) => utf8(jsonCodec.batch(frames.map(text))),
  size: (unit) => unit.length,
  decode(message: unknown, limits?: DecodeLimits) {
    if (!Buffer.isBuffer(message)) throw new ProtocolError('a text message on a json-bytes connection', CloseCode.BadFrame);
    return jsonCodec.decode(text(message), limits);
  },
};
