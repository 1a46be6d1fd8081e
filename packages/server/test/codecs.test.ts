import { afterEach, describe, expect, it } from 'vitest';
import { jsonCodec } from '@lifeline/protocol';
import { MAX_PAYLOAD_DEPTH, decode } from '@lifeline/protocol/internal';
import { CloseCode, type ProtocolErrorInfo } from '../src/index.js';
import { RawClient, closeAll, nextSession, startServer, urlOf } from '@lifeline/test-kit';
import { jsonBytes } from './json-bytes.js';

afterEach(closeAll);

/** A value nested `levels` deep (`[]` is 1). */
function nested(levels: number): unknown {
  let v: unknown = 'leaf';
  for (let i = 0; i < levels; i++) v = i % 2 === 0 ? [v] : { k: v };
  return v;
}

describe('codec negotiation (protocol.md, "Codecs")', () => {
  it('a hello without codecs speaks json and its welcome names no codec', async () => {
    const server = await startServer();
    const { welcome } = await RawClient.connect(urlOf(server));
    expect(welcome).not.toHaveProperty('codec');
  });

  it('takes the first offered codec the server speaks, and names it in welcome', async () => {
    const server = await startServer();
    const { client, welcome } = await RawClient.connect(urlOf(server), { codecs: ['msgpack', 'json'] });
    expect(welcome.codec).toBe('json');
    client.sendMsgs([{ seq: 1, d: 'hi' }]);
    expect(await client.acks(1)).toEqual([{ seq: 1, r: 'hi' }]);
  });

  it('closes 4406 when no offered codec is spoken here, before authenticate runs', async () => {
    let authenticated = 0;
    const server = await startServer({ authenticate: () => ++authenticated });
    const errors: ProtocolErrorInfo[] = [];
    server.on('protocol-error', (e) => errors.push(e));
    const client = await RawClient.open(urlOf(server));
    client.send({ t: 'hello', v: 1, codecs: ['msgpack'] });
    expect(await client.closedWith()).toBe(CloseCode.UnsupportedVersion);
    expect(errors[0]?.reason).toMatch(/none of the codecs offered.*json/);
    expect(authenticated).toBe(0);
    expect(server.sessions.size).toBe(0);
  });

  it('refuses a codecs option that is not a list of codecs with a TypeError', async () => {
    await expect(startServer({ codecs: [] })).rejects.toThrow(TypeError);
    await expect(startServer({ codecs: [jsonCodec, { ...jsonCodec }] })).rejects.toThrow(/twice/);
  });
});

describe('a second codec: every frame after welcome goes through it', () => {
  it('welcome is JSON text, then acks, errors, pongs and the bye come as binary messages of the session codec', async () => {
    const server = await startServer({
      codecs: [jsonCodec, jsonBytes],
      handler: (d) => {
        if (d === 'fail') throw Object.assign(new Error('no'), { code: 'E_NO' });
        return d;
      },
    });
    const session = nextSession(server);
    const { client, welcome } = await RawClient.connect(urlOf(server), { codecs: ['json-bytes', 'json'] });
    expect(welcome.codec).toBe('json-bytes');
    expect(client.binaryMessages).toBe(0); // the welcome's own message is text
    const frames = [1, 2, 3].map((seq) => ({ t: 'msg', seq, id: `m${seq}`, ts: 1, d: seq === 2 ? 'fail' : seq }));
    client.send(Buffer.from(JSON.stringify([...frames, { t: 'ping', ts: 5 }])));
    expect(await client.acks(3)).toEqual([{ seq: 1, r: 1 }, { seq: 2, e: { code: 'E_NO', message: 'no' } }, { seq: 3, r: 3 }]);
    expect(await client.next((f) => f.t === 'pong')).toMatchObject({ ts: 5 });
    (await session).close('done');
    expect(await client.closedWith()).toBe(4410);
    expect(client.binaryMessages).toBe(client.messages.length - 1);
    expect(client.messages.at(-1)).toContain('"t":"bye"');
  });

  it('a text message on a binary session is a protocol error (4400)', async () => {
    const server = await startServer({ codecs: [jsonBytes, jsonCodec] });
    const { client } = await RawClient.connect(urlOf(server), { codecs: ['json-bytes'] });
    client.send({ t: 'ping', ts: 1 });
    expect(await client.closedWith()).toBe(CloseCode.BadFrame);
  });

  it('a session keeps its codec for life: a resume offering it resumes in it, one that does not gets a new session', async () => {
    const server = await startServer({ codecs: [jsonCodec, jsonBytes] });
    const first = await RawClient.connect(urlOf(server), { codecs: ['json-bytes'] });
    const sid = first.welcome.sid as string;
    first.client.ws.terminate();
    await first.client.closed;

    // Offering JSON alone: the session's cached results are bytes, so a new session starts and the old one is left alone.
    const other = await RawClient.connect(urlOf(server), { resume: { sid, token: first.welcome.token, seq: 0 } });
    expect(other.welcome).toMatchObject({ resumed: false });
    expect(other.welcome.sid).not.toBe(sid);
    expect(server.sessions.get(sid)?.state).toBe('detached');

    // Offering it among others: resumed, in its codec even when another comes first.
    const back = await RawClient.connect(urlOf(server), { codecs: ['json', 'json-bytes'], resume: { sid, token: first.welcome.token, seq: 0 } });
    expect(back.welcome).toMatchObject({ resumed: true, sid, codec: 'json-bytes' });
    back.client.send(Buffer.from(JSON.stringify({ t: 'msg', seq: 1, id: 'a', ts: 1, d: 'x' })));
    expect(await back.client.acks(1)).toEqual([{ seq: 1, r: 'x' }]);
    expect(back.client.binaryMessages).toBeGreaterThan(0);
  });
});

describe('payload depth on the sending side (decoders take 64 levels per frame)', () => {
  it('a result nested 63 levels goes as a lone ack, not in acks; one nested 64 is an error ack; the client decoder takes every message', async () => {
    const results: Record<number, unknown> = { 1: 'a', 2: nested(MAX_PAYLOAD_DEPTH), 3: 'c', 4: nested(MAX_PAYLOAD_DEPTH + 1), 5: 'e' };
    const server = await startServer({ handler: (d) => results[d as number] });
    const { client } = await RawClient.connect(urlOf(server));
    client.sendMsgs([1, 2, 3, 4, 5].map((seq) => ({ seq, d: seq })));
    const acks = await client.acks(5);
    expect(acks.map((a) => a.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(acks[1]?.r).toEqual(results[2]);
    expect(acks[3]?.e).toMatchObject({ code: 'ERR_HANDLER', message: expect.stringMatching(/cannot be encoded.*63 levels/) });
    for (const message of client.messages) expect(() => decode(message)).not.toThrow();
  });

  it('session.send() rejects a payload nested deeper than 63 levels with a TypeError, and sends one of 63', async () => {
    const server = await startServer();
    const session = nextSession(server);
    const { client } = await RawClient.connect(urlOf(server));
    const s = await session;
    await expect(s.send(nested(MAX_PAYLOAD_DEPTH + 1))).rejects.toThrow(TypeError);
    void s.send(nested(MAX_PAYLOAD_DEPTH));
    const msg = await client.next((f) => f.t === 'msg');
    expect(msg).toMatchObject({ seq: 1, d: nested(MAX_PAYLOAD_DEPTH) });
    for (const message of client.messages) expect(() => decode(message)).not.toThrow();
  });
});
