/**
 * `npm run codec-size`: the JSON and msgpack codecs side by side, in one process, on two payloads:
 * an order (what a trading client sends) and a numeric market-data update (20 price levels of
 * [price, size], what a server pushes). Prints bytes on the wire per frame and encode/decode
 * rates per codec. Indicative only: one short run, in-process, no network.
 *
 * Encode is what a sender pays per message: `value(payload)` and the `msg` frame around it, plus,
 * for JSON, the UTF-8 conversion `ws` makes of a text message. Decode is what a receiver pays: for
 * JSON the UTF-8 → string conversion the server makes, then `decode` (depth check, parse,
 * validation); for msgpack `decode` (header skim, parse, validation) on the bytes as they come.
 */
import { jsonCodec, msgpackCodec } from '@lifeline/protocol';

const ORDER = { op: 'buy', symbol: 'EURUSD', qty: 1000, price: 1.08345, clientOrderId: 'c0a8012e-7f1b-4c2a-9d7e-3b5f2a1c9e40' };

const level = (i, side) => [Math.round((1.08345 + side * i * 0.00001) * 1e5) / 1e5, 250_000 * (1 + (i % 4))];
const MARKET = {
  symbol: 'EURUSD',
  ts: 1732860000123,
  bids: Array.from({ length: 10 }, (_, i) => level(i, -1)),
  asks: Array.from({ length: 10 }, (_, i) => level(i + 1, 1)),
};

const codecs = [jsonCodec, msgpackCodec];
const wire = (codec, unit) => (codec.binary ? unit : Buffer.from(unit));
const received = (codec, bytes) => (codec.binary ? bytes : bytes.toString());

function rate(n, fn) {
  for (let i = 0; i < Math.min(n, 5_000); i++) fn(i); // warm up
  const started = performance.now();
  for (let i = 0; i < n; i++) fn(i);
  return n / ((performance.now() - started) / 1000);
}

const fmt = (n) => Math.round(n).toLocaleString('en-US');
const rows = [];
for (const [name, payload, n] of [
  ['order', ORDER, 200_000],
  ['market data (20 levels)', MARKET, 50_000],
]) {
  for (const codec of codecs) {
    const id = codec.value('m-000001');
    const frame = wire(codec, codec.msg(1, id, 1732860000123, codec.value(payload)));
    const check = codec.decode(received(codec, frame))[0];
    if (JSON.stringify(check.d) !== JSON.stringify(payload)) throw new Error(`${codec.name} changed the ${name} payload`);
    const encode = rate(n, (i) => wire(codec, codec.msg(i + 1, id, 1732860000123, codec.value(payload))));
    const decode = rate(n, () => codec.decode(received(codec, frame)));
    rows.push({ payload: name, codec: codec.name, payloadBytes: codec.size(wire(codec, codec.value(payload))), frameBytes: frame.length, encode, decode });
  }
}

console.log(`node ${process.version}, ${process.arch}; one process, indicative figures\n`);
console.log('| payload | codec | payload bytes | msg frame bytes | encode msg/s | decode msg/s |');
console.log('|---|---|---:|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.payload} | ${r.codec} | ${r.payloadBytes} | ${r.frameBytes} | ${fmt(r.encode)} | ${fmt(r.decode)} |`);
for (const name of new Set(rows.map((r) => r.payload))) {
  const [j, m] = rows.filter((r) => r.payload === name);
  console.log(
    `\n${name}: msgpack frame ${((m.frameBytes / j.frameBytes) * 100).toFixed(0)}% of JSON's bytes; encode ${(m.encode / j.encode).toFixed(2)}×, decode ${(m.decode / j.decode).toFixed(2)}× JSON's rate`,
  );
}
