import { describe, expect, expectTypeOf, it } from 'vitest';
import * as server from '../src/index.js';
import {
  AckTimeoutError,
  ClosedError,
  LifelineError,
  createServer,
  jsonCodec,
  type Codec,
  type LifelineServer,
  type Session,
  type SendOptions,
  type ServerOptions,
} from '../src/index.js';

// The full list is docs/api.md (checked by tests/integration/test/public-surface.test.ts).
describe('public API', () => {
  it('takes the documented options, codecs included, from this one import', () => {
    const options: ServerOptions = { port: 0, handler: () => ({ ok: true }), codecs: [jsonCodec], plugins: [{ name: 'noop' }] };
    expectTypeOf<ServerOptions['codecs']>().toEqualTypeOf<readonly Codec[] | undefined>();
    expectTypeOf(createServer).returns.toEqualTypeOf<LifelineServer>();
    expect(options.codecs).toEqual([jsonCodec]);
    expectTypeOf<Session['send']>().parameter(1).toEqualTypeOf<SendOptions | undefined>();
    expectTypeOf<SendOptions>().toEqualTypeOf<{ timeoutMs?: number; signal?: AbortSignal; id?: string }>();
    expect(new ClosedError('c')).toBeInstanceOf(LifelineError);
    expect(new AckTimeoutError('id', false, 1).code).toBe('ERR_ACK_TIMEOUT');
  });

  it('exports no internals of @lifeline/protocol', () => {
    expectTypeOf(server).not.toHaveProperty('SendQueue');
    expectTypeOf(server).not.toHaveProperty('PluginHost');
    expect(Object.keys(server)).not.toContain('Deadlines');
  });
});
