import { afterEach, describe, expect, it } from 'vitest';
import { RawClient, closeAll, nextSession, startServer, urlOf } from '@lifeline/test-kit';
import { CloseCode, type ProtocolErrorInfo } from '../src/index.js';

afterEach(closeAll);

const hello = { t: 'hello', v: 1 };
const deep = `{"t":"msg","seq":1,"id":"a","ts":1,"d":${'['.repeat(200)}${']'.repeat(200)}}`;
/** A msg frame (seq 1) nested exactly `levels` deep, its own object being level 1. */
const frameOfDepth = (levels: number, seq = 1) => `{"t":"msg","seq":${seq},"id":"d${seq}","ts":1,"d":${'['.repeat(levels - 1)}${']'.repeat(levels - 1)}}`;

/** [name, frames sent after open (a hello first where the case needs one), expected close code] */
const cases: Array<[string, Array<string | Buffer | object>, number]> = [
  ['non-JSON', ['this is not json'], CloseCode.BadFrame],
  ['binary junk', [Buffer.from([0xde, 0xad, 0xbe, 0xef])], CloseCode.BadFrame],
  ['binary junk after hello', [hello, Buffer.from([1, 2, 3])], CloseCode.BadFrame],
  ['an unknown frame type', [hello, { t: 'launch', missiles: true }], CloseCode.BadFrame],
  ['wrong field types in a known frame', [hello, { t: 'msg', seq: 'one', id: 1, ts: 'x', d: 1 }], CloseCode.BadFrame],
  ['a frame a client may not send', [hello, { t: 'welcome', v: 1, sid: 's', token: 't', resumed: false, seq: 0, win: 1, hb: 1, max: 1 }], CloseCode.BadFrame],
  ['hello with v: 2', [{ t: 'hello', v: 2 }], CloseCode.UnsupportedVersion],
  // Any v but the integer 1 is a version problem, whatever its type (protocol.md, hello).
  ['hello with v: "1"', [{ t: 'hello', v: '1' }], CloseCode.UnsupportedVersion],
  ['hello with v: 1.5', [{ t: 'hello', v: 1.5 }], CloseCode.UnsupportedVersion],
  ['hello without v', [{ t: 'hello' }], CloseCode.UnsupportedVersion],
  ['hello with v: "2.0" batched with a msg', ['[{"t":"hello","v":"2.0"},{"t":"msg","seq":1,"id":"a","ts":1,"d":1}]'], CloseCode.UnsupportedVersion],
  // The batch array does not count against a frame's depth: a 64-level frame passes batched, 65 does not.
  ['a 65-level frame in a batch', [hello, `[${frameOfDepth(65)}]`], CloseCode.BadFrame],
  ['a message larger than maxPayloadBytes', [hello, { t: 'msg', seq: 1, id: 'a', ts: 1, d: 'x'.repeat(20_000) }], CloseCode.MessageTooBig],
  ['200-level deep nesting', [hello, deep], CloseCode.BadFrame],
  ['msg before hello', [{ t: 'msg', seq: 1, id: 'a', ts: 1, d: 1 }], CloseCode.BadFrame],
  ['an empty batch', [hello, '[]'], CloseCode.BadFrame],
  ['a peer that never says hello', [], CloseCode.HandshakeTimeout],
  ['authenticate refusal', [{ t: 'hello', v: 1, auth: 'wrong' }], CloseCode.Unauthorized],
];

describe('bad input gets a clear answer, and nothing else breaks', () => {
  it('closes each bad peer with its documented code while a good client carries on', async () => {
    const server = await startServer({
      // Long enough that a loop stalled on a busy machine does not time the good client out.
      handshakeTimeoutMs: 1_000,
      maxPayloadBytes: 16 * 1024,
      authenticate: (auth) => (auth === 'wrong' ? false : { user: 'ok' }),
      handler: (d) => d,
    });
    const errors: ProtocolErrorInfo[] = [];
    server.on('protocol-error', (e) => errors.push(e));
    const unexpected: unknown[] = [];
    server.on('error', (e) => unexpected.push(e));

    const sessionP = nextSession(server);
    const good = await RawClient.connect(urlOf(server));
    const session = await sessionP;
    good.client.sendMsgs(Array.from({ length: 50 }, (_, i) => ({ seq: i + 1, d: i })));
    const push = session.send({ still: 'here' });

    const forged = { t: 'hello', v: 1, resume: { sid: good.welcome.sid, token: 'forged', seq: 0 } };
    const all: typeof cases = [...cases, ['a forged resume token', [forged], CloseCode.Forbidden]];
    const codes = await Promise.all(
      all.map(async ([, frames]) => {
        const peer = await RawClient.open(urlOf(server));
        for (const f of frames) peer.send(typeof f === 'string' || Buffer.isBuffer(f) ? f : (f as object));
        return peer.closedWith(3_000);
      }),
    );
    expect(Object.fromEntries(all.map(([name], i) => [name, codes[i]]))).toEqual(Object.fromEntries(all.map(([name, , code]) => [name, code])));

    // Every bad peer was reported, with its code, and none touched the good session.
    expect(errors.map((e) => e.code).sort()).toEqual(all.map(([, , code]) => code).sort());
    expect(errors.every((e) => e.sessionId === undefined || e.sessionId !== good.welcome.sid)).toBe(true);
    expect(unexpected).toEqual([]);

    expect((await good.client.acks(50)).map((a) => a.r)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    const m = await good.client.next((f) => f.t === 'msg');
    expect(m.d).toEqual({ still: 'here' });
    good.client.send({ t: 'cack', seq: m.seq });
    await push;
    expect(session.connected).toBe(true);
    good.client.sendMsgs([{ seq: 51, d: 'after' }]);
    expect(await good.client.acks(1)).toEqual([{ seq: 51, r: 'after' }]);

    // And the server still takes new clients.
    const { welcome } = await RawClient.connect(urlOf(server));
    expect(welcome.resumed).toBe(false);
  });

  it('takes a 64-level frame alone and batched: the batch array does not count against its depth', async () => {
    const server = await startServer({ handler: () => 'ok' });
    const { client } = await RawClient.connect(urlOf(server));
    client.send(frameOfDepth(64, 1));
    client.send(`[${frameOfDepth(64, 2)}]`);
    client.send(`[{"t":"ping","ts":1},${frameOfDepth(64, 3)},${frameOfDepth(64, 4)}]`);
    expect(await client.acks(4)).toEqual([1, 2, 3, 4].map((seq) => ({ seq, r: 'ok' })));
    expect(client.closeCode).toBeUndefined();
  });

  it('a handler that throws odd values only produces error acks', async () => {
    const values: unknown[] = [null, undefined, 42, 'text', { code: 7 }, Object.create(null)];
    const server = await startServer({
      handler: (i) => {
        throw values[i as number];
      },
    });
    const { client } = await RawClient.connect(urlOf(server));
    client.sendMsgs(values.map((_, i) => ({ seq: i + 1, d: i })));
    const acks = await client.acks(values.length);
    expect(acks.every((a) => a.e?.code === 'ERR_HANDLER')).toBe(true);
  });

  it('a throwing plugin and a throwing listener are isolated', async () => {
    const pluginErrors: string[] = [];
    const errors: unknown[] = [];
    const server = await startServer({
      plugins: [
        {
          name: 'broken',
          onReceive: () => {
            throw new Error('plugin bug');
          },
        },
      ],
    });
    server.on('plugin-error', (e) => pluginErrors.push(`${e.plugin}.${e.hook}`));
    server.on('error', (e) => errors.push(e));
    server.on('session', () => {
      throw new Error('listener bug');
    });
    const { client } = await RawClient.connect(urlOf(server));
    client.sendMsgs([{ seq: 1, d: 'ok' }]);
    expect(await client.acks(1)).toEqual([{ seq: 1, r: 'ok' }]);
    expect(pluginErrors).toEqual(['broken.onReceive']);
    expect(errors).toHaveLength(1);
  });
});
