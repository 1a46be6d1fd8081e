import { describe, expect, it } from 'vitest';
import { ProtocolError, jsonCodec, type Codec } from '@lifeline/protocol';
import { client, fakeServer, useFixtures } from './helpers.js';
import type { AnyFrame } from './fake-server.js';
import type { OutboxStore, StoredMessage } from '../src/index.js';

useFixtures();

const other: Codec<string> = { ...jsonCodec, name: 'other' };

const toB64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const fromB64 = (text: string): string => Buffer.from(text, 'base64').toString('utf8');
/** A text codec whose units are base64 of JSON: no unit of it reads as JSON. */
const base64: Codec<string> = {
  ...jsonCodec,
  name: 'b64',
  value: (v) => toB64(jsonCodec.value(v)),
  msg: (seq, id, ts, d) => toB64(jsonCodec.msg(seq, fromB64(id), ts, fromB64(d))),
  decode: (message, limits) => jsonCodec.decode(fromB64(message as string), limits),
};

describe('codec negotiation, client side', () => {
  it('offers no codecs when it speaks JSON alone, and speaks JSON to a welcome that names none', async () => {
    const hellos: AnyFrame[] = [];
    const server = await fakeServer({ onHello: (h) => void hellos.push(h) });
    const c = client({ url: server.url });
    await c.connect();
    await expect(c.send('x')).resolves.toEqual({ echo: 'x' });
    expect(hellos[0]).not.toHaveProperty('codecs');
  });

  it('offers its codecs in preference order', async () => {
    const hellos: AnyFrame[] = [];
    const server = await fakeServer({ onHello: (h) => void hellos.push(h) });
    const c = client({ url: server.url, codecs: [other, jsonCodec] });
    await c.connect();
    expect(hellos[0]?.codecs).toEqual(['other', 'json']);
  });

  it('refuses a welcome naming a codec it did not offer: a ProtocolError, not a session', async () => {
    const server = await fakeServer({
      onHello: (_h, socket) => {
        socket.send(JSON.stringify({ t: 'welcome', v: 1, sid: 's', token: 't', resumed: false, seq: 0, win: 8, hb: 1000, max: 4096, codec: 'other' }));
        return false;
      },
    });
    const c = client({ url: server.url, reconnect: false });
    const errors: ProtocolError[] = [];
    c.on('protocol-error', (e) => errors.push(e));
    await expect(c.connect()).rejects.toBeInstanceOf(ProtocolError);
    expect(errors[0]?.message).toMatch(/codec other/);
  });

  it('encodes payloads once with its first choice, and re-encodes them for a session that speaks another', async () => {
    const server = await fakeServer(); // its welcome names no codec: json
    const c = client({ url: server.url, codecs: [base64, jsonCodec] });
    const early = c.send({ queued: 'before the welcome', n: [1, 2.5, 'é'] });
    await c.connect();
    await expect(early).resolves.toEqual({ echo: { queued: 'before the welcome', n: [1, 2.5, 'é'] } });
    await expect(c.send('after', { id: 'id "quoted"' })).resolves.toEqual({ echo: 'after' });
    expect(server.msgs.map((m) => [m.id, m.d])).toEqual([
      [expect.any(String), { queued: 'before the welcome', n: [1, 2.5, 'é'] }],
      ['id "quoted"', 'after'],
    ]);
  });

  it('keeps JSON text in the durable outbox whatever codec encodes payloads, and restores it into that codec', async () => {
    const kept: StoredMessage[] = [{ id: 'left-by-an-earlier-run', data: '{"restored":true}' }];
    const store: OutboxStore = { load: () => kept.splice(0), add: (m) => void kept.push(m), remove: () => {} };
    const server = await fakeServer({ handler: () => undefined }); // never answers: what is sent stays kept
    const c = client({ url: server.url, codecs: [base64, jsonCodec], outbox: store });
    void c.send({ n: 'é' }).catch(() => {});
    expect(kept[1]).toEqual({ id: expect.any(String), data: '{"n":"é"}' });
    await c.connect();
    await server.until(() => server.msgs.length === 2);
    expect(server.msgs.map((m) => m.d)).toEqual([{ restored: true }, { n: 'é' }]);
  });

  it('validates the codecs option with a TypeError', () => {
    expect(() => client({ url: 'ws://127.0.0.1:9', codecs: [] })).toThrow(TypeError);
    expect(() => client({ url: 'ws://127.0.0.1:9', codecs: [jsonCodec, jsonCodec] })).toThrow(TypeError);
  });
});
