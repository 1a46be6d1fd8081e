import { describe, expect, it } from 'vitest';
import { ProtocolError, jsonCodec, type Codec } from '@lifeline/protocol';
import { client, fakeServer, useFixtures } from './helpers.js';
import type { AnyFrame } from './fake-server.js';

useFixtures();

const other: Codec<string> = { ...jsonCodec, name: 'other' };

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

  it('validates the codecs option with a TypeError', () => {
    expect(() => client({ url: 'ws://127.0.0.1:9', codecs: [] })).toThrow(TypeError);
    expect(() => client({ url: 'ws://127.0.0.1:9', codecs: [jsonCodec, jsonCodec] })).toThrow(TypeError);
  });
});
