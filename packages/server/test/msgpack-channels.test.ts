import { afterEach, describe, expect, it } from 'vitest';
import { jsonCodec, msgpackCodec } from '@lifeline/protocol';
import { RawClient, closeAll, startServer, urlOf } from '@lifeline/test-kit';
import { offsets, range, take } from './channels-kit.js';

afterEach(closeAll);

const m = msgpackCodec;

/** A raw client whose session speaks msgpack: frames go out as MessagePack, binary messages are read with it. */
async function msgpackClient(url: string, auth: string): Promise<{ client: RawClient; sid: string }> {
  const { client, welcome } = await RawClient.connect(url, { auth, codecs: ['msgpack'] });
  expect(welcome.codec).toBe('msgpack');
  client.readBinary = (data) => m.decode(data);
  return { client, sid: welcome.sid as string };
}

describe('channels over msgpack: the frames written around pre-encoded units reach the client', () => {
  it('sub, pub to msgpack and json subscribers alike, join, leave, members', async () => {
    const server = await startServer({ codecs: [jsonCodec, msgpackCodec] });
    const a = await msgpackClient(urlOf(server), 'alice');
    const b = await msgpackClient(urlOf(server), 'bob');
    const text = (await RawClient.connect(urlOf(server))).client;

    a.client.send(Buffer.from(m.sub('ticker')));
    expect(await a.client.next((f) => f.t === 'subok')).toMatchObject({ ch: 'ticker', offset: 0 });
    text.send({ t: 'sub', ch: 'ticker' });
    await text.next((f) => f.t === 'subok');

    const N = 20;
    for (let i = 1; i <= N; i++) await server.publish('ticker', { bid: 1.08344 + i / 1e5, size: 250_000 * i, levels: [[1.1, 2]] });
    const viaMsgpack = await take(a.client, 'ticker', N);
    const viaJson = await take(text, 'ticker', N);
    expect(offsets(viaMsgpack)).toEqual(range(1, N));
    expect(viaMsgpack.map((f) => f.d)).toEqual(viaJson.map((f) => f.d));
    expect(viaMsgpack.map((f) => f.epoch)).toEqual(viaJson.map((f) => f.epoch));
    a.client.send(Buffer.from(m.pack('ticker', N)));

    a.client.send(Buffer.from(m.sub('room')));
    await a.client.next((f) => f.t === 'subok' && f.ch === 'room');
    b.client.send(Buffer.from(m.sub('room')));
    await b.client.next((f) => f.t === 'subok' && f.ch === 'room');
    expect((await a.client.next((f) => f.t === 'join' && f.ch === 'room')).member).toEqual({ clientId: b.sid, sessionId: b.sid });
    b.client.send(Buffer.from(m.presence('room')));
    const members = await b.client.next((f) => f.t === 'members');
    expect(members.members.map((x: { sessionId: string }) => x.sessionId).sort()).toEqual([a.sid, b.sid].sort());
    b.client.send(Buffer.from(m.unsub('room')));
    expect((await a.client.next((f) => f.t === 'leave' && f.ch === 'room')).member).toEqual({ clientId: b.sid, sessionId: b.sid });
    expect(a.client.binaryMessages).toBe(a.client.messages.length - 1); // all but the welcome
  });
});
