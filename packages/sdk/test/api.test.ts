import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { closeAll, startWsServer } from '@lifeline/test-kit';
import {
  AckTimeoutError,
  ClosedError,
  CloseCode,
  ConnectionError,
  LifelineClient,
  LifelineError,
  PayloadTooLargeError,
  ProtocolError,
  QueueFullError,
  RemoteError,
  ResultEvictedError,
  TimeoutError,
  UnauthorizedError,
  AbortError,
  clientDefaults,
  createClient,
  jsonCodec,
  type Client,
  type Codec,
  type ClientOptions,
  type ClientState,
  type DisconnectInfo,
  type Json,
  type LifelinePlugin,
  type MessageMeta,
  type SessionLostInfo,
} from '../src/index.js';
import * as sdk from '../src/index.js';

afterEach(closeAll);

describe('public API (DESIGN.md)', () => {
  it('has the documented shape', () => {
    // Types only: nothing below runs (the client is never connected).
    const client = createClient({ url: 'ws://127.0.0.1:8080' });
    expectTypeOf(client).toEqualTypeOf<Client>();
    expectTypeOf(client).toEqualTypeOf<LifelineClient>();
    expectTypeOf(client.connect).parameter(0).toEqualTypeOf<{ timeoutMs?: number; signal?: AbortSignal } | undefined>();
    expectTypeOf(client.connect).returns.toEqualTypeOf<Promise<void>>();
    // Checked by the type checker only: calling them would leave real sends and a receive()
    // whose deadlines reject after the test (an unhandled rejection on a slow run).
    const typesOnly = (): void => {
      expectTypeOf(client.send({ op: 'buy', qty: 1 }, { timeoutMs: 10_000 })).toEqualTypeOf<Promise<Json>>();
      expectTypeOf(client.send<{ ok: boolean }>({ op: 'buy' })).toEqualTypeOf<Promise<{ ok: boolean }>>();
      expectTypeOf(client.receive({ timeoutMs: 1_000 })).toEqualTypeOf<Promise<Json>>();
    };
    void typesOnly;
    expectTypeOf(client.send).parameter(1).toEqualTypeOf<{ timeoutMs?: number; signal?: AbortSignal; id?: string } | undefined>();
    expectTypeOf(client.messages()).toEqualTypeOf<AsyncIterableIterator<Json>>();
    expectTypeOf(client.close).parameter(0).toEqualTypeOf<{ drain?: boolean; timeoutMs?: number; signal?: AbortSignal } | undefined>();
    expectTypeOf(client.state).toEqualTypeOf<ClientState>();
    expectTypeOf<ClientState>().toEqualTypeOf<'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed'>();
    client.on('message', (data, meta) => {
      expectTypeOf(data).toEqualTypeOf<Json>();
      expectTypeOf(meta).toEqualTypeOf<MessageMeta>();
      expectTypeOf(meta.seq).toEqualTypeOf<number>();
      expectTypeOf(meta.id).toEqualTypeOf<string>();
      expectTypeOf(meta.sentAt).toEqualTypeOf<number>();
    });
    client.on('state', (state, change) => {
      expectTypeOf(state).toEqualTypeOf<ClientState>();
      expectTypeOf(change.from).toEqualTypeOf<ClientState>();
    });
    client.on('session-lost', (info) => expectTypeOf(info).toEqualTypeOf<SessionLostInfo>());
    client.on('reconnecting', (info) => expectTypeOf(info).toEqualTypeOf<{ readonly attempt: number; readonly delayMs: number }>());
    client.on('resumed', (info) => expectTypeOf(info.replayed).toEqualTypeOf<number>());
    client.on('disconnect', (info) => expectTypeOf(info).toEqualTypeOf<DisconnectInfo>());
    client.on('protocol-error', (error) => expectTypeOf(error).toEqualTypeOf<ProtocolError>());
    // @ts-expect-error: unknown events are refused
    client.on('nope', () => {});
  });

  it('takes the documented option names', () => {
    const plugin: LifelinePlugin = { name: 'noop' };
    const options: ClientOptions = {
      url: () => Promise.resolve('ws://127.0.0.1:8080'),
      auth: { token: 't' },
      connectTimeoutMs: 1,
      heartbeatIntervalMs: 1,
      heartbeatTimeoutMs: 1,
      reconnect: { minDelayMs: 1, maxDelayMs: 2, maxAttempts: 3, minUptimeMs: 4 },
      ackTimeoutMs: 1,
      maxInFlight: 1,
      maxQueued: { messages: 1, bytes: 1 },
      overflow: 'wait',
      maxBuffered: 1,
      highWaterMarkBytes: 1,
      plugins: [plugin],
    };
    expectTypeOf(options.overflow).toEqualTypeOf<'wait' | 'reject' | undefined>();
    expectTypeOf<ClientOptions['reconnect']>().toEqualTypeOf<
      { minDelayMs?: number; maxDelayMs?: number; maxAttempts?: number; minUptimeMs?: number } | false | undefined
    >();
    expect(clientDefaults).toMatchObject({ ackTimeoutMs: 30_000, maxInFlight: 65_535, maxBuffered: 1024, overflow: 'wait' });
  });

  it('takes codecs, and exports the codec they name', () => {
    const options: ClientOptions = { url: 'ws://127.0.0.1:8080', codecs: [jsonCodec] };
    expectTypeOf(jsonCodec).toMatchTypeOf<Codec>();
    expectTypeOf<ClientOptions['codecs']>().toEqualTypeOf<readonly Codec[] | undefined>();
    expect(options.codecs?.[0]?.name).toBe('json');
  });

  it('exports no internals of the layers below (docs/api.md)', () => {
    // The send queue, writer, plugin host and option helpers are at the /internal entries.
    expectTypeOf(sdk).not.toHaveProperty('SendQueue');
    expectTypeOf(sdk).not.toHaveProperty('FrameWriter');
    expectTypeOf(sdk).not.toHaveProperty('PluginHost');
    expectTypeOf(sdk).not.toHaveProperty('Transport');
    expectTypeOf(sdk).not.toHaveProperty('resolveClientOptions');
    expect(Object.keys(sdk)).not.toContain('messageId');
  });

  it('re-exports every error class with its stable code, and CloseCode', () => {
    const errors: Array<[LifelineError, string]> = [
      [new AckTimeoutError('id', true, 1), 'ERR_ACK_TIMEOUT'],
      [new TimeoutError('t'), 'ERR_TIMEOUT'],
      [new AbortError('a'), 'ERR_ABORTED'],
      [new ClosedError('c'), 'ERR_CLOSED'],
      [new QueueFullError(), 'ERR_QUEUE_FULL'],
      [new RemoteError('E', 'm'), 'ERR_REMOTE'],
      [new ResultEvictedError('m'), 'ERR_RESULT_EVICTED'],
      [new ProtocolError('p'), 'ERR_PROTOCOL'],
      [new UnauthorizedError('u'), 'ERR_UNAUTHORIZED'],
      [new PayloadTooLargeError(2, 1), 'ERR_PAYLOAD_TOO_LARGE'],
      [new ConnectionError(1006, 'x'), 'ERR_CONNECTION'],
    ];
    for (const [error, code] of errors) {
      expect(error).toBeInstanceOf(LifelineError);
      expect(error.code).toBe(code);
    }
    expect(CloseCode.Unauthorized).toBe(4401);
    expectTypeOf(new AckTimeoutError('id', true, 1).maybeDelivered).toEqualTypeOf<boolean>();
  });

  it('createClient() talks to a server end to end (hello/welcome/msg/ack)', async () => {
    const server = await startWsServer((socket) => {
      socket.once('message', () => {
        socket.send(JSON.stringify({ t: 'welcome', v: 1, sid: 's', token: 't', resumed: false, seq: 0, win: 8, hb: 15_000, max: 65_536 }));
        socket.on('message', (raw) => {
          const parsed = JSON.parse(String(raw)) as { t: string; seq: number; d: Json } | Array<{ t: string; seq: number; d: Json }>;
          for (const f of Array.isArray(parsed) ? parsed : [parsed]) {
            if (f.t === 'msg') socket.send(JSON.stringify({ t: 'ack', seq: f.seq, r: { ok: true, d: f.d } }));
          }
        });
      });
    });
    const client = createClient({ url: server.url });
    try {
      await client.connect({ timeoutMs: 5_000 });
      await expect(client.send({ op: 'buy', qty: 1 }, { timeoutMs: 5_000 })).resolves.toEqual({ ok: true, d: { op: 'buy', qty: 1 } });
    } finally {
      await client.close();
    }
  });
});
