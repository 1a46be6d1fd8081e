import { describe, expect, expectTypeOf, it } from 'vitest';
import * as pub from '../src/index.js';
import * as internal from '../src/internal.js';
import { ProtocolError, jsonCodec, type Codec, type Frame, type LifelinePlugin, type PluginContext, type SendOptions } from '../src/index.js';

// docs/api.md lists both entries name by name (tests/integration/test/public-surface.test.ts
// checks the list); here, what a user of each relies on.
describe('the two entry points', () => {
  it('keeps the shared machinery out of the public entry', () => {
    for (const name of ['SendQueue', 'FrameWriter', 'Deadlines', 'Fifo', 'Outgoing', 'PluginHost', 'decode', 'chooseCodec', 'messageId', 'now']) {
      expect(Object.keys(pub), name).not.toContain(name);
      expect(Object.keys(internal), name).toContain(name);
    }
    expectTypeOf(pub).not.toHaveProperty('SendQueue');
    expectTypeOf(internal).toHaveProperty('SendQueue');
  });

  it('gives a plugin author, a codec user and a peer author their types', () => {
    const plugin: LifelinePlugin = { name: 'p', onAck: (_event, ctx) => expectTypeOf(ctx).toEqualTypeOf<PluginContext>() };
    expect(plugin.name).toBe('p');
    expectTypeOf(jsonCodec).toMatchTypeOf<Codec<string>>();
    expectTypeOf(jsonCodec.decode('{"t":"ping","ts":1}')).toEqualTypeOf<Frame[]>();
    expectTypeOf<SendOptions>().toEqualTypeOf<{ timeoutMs?: number; signal?: AbortSignal; id?: string }>();
    expect(pub.PROTOCOL_VERSION).toBe(1);
    expect(pub.isRetryableClose(pub.CloseCode.Unauthorized)).toBe(false);
  });

  it('throws the public error classes from internal code', () => {
    // One class whichever entry it came through: `instanceof` works for what the decoder throws.
    expect(() => internal.decode('{"t":"nope"}')).toThrow(ProtocolError);
    expect(() => jsonCodec.decode('[')).toThrow(pub.LifelineError);
  });
});
