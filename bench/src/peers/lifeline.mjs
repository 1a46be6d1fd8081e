/**
 * Lifeline: `client.send()` resolves with the server handler's result (acked, replayed after a
 * reconnect, handled once). options: `{ metrics }`: install `metrics()` from @lifeline/metrics on
 * the client and on the server; `{ fileOutbox }`: give the client a durable outbox in a file;
 * `{ codec: 'msgpack' }`: the client offers MessagePack first and the server speaks it;
 * `{ maxInFlight }`: the send window of the client and of the server (else their default).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PAYLOAD, RESULT } from '../payload.mjs';
import { Hold } from '../hold.mjs';
import { withDeadline } from '../deadline.mjs';

/** The codecs of a side: MessagePack first when `options.codec` is 'msgpack', else the default (JSON). */
async function codecs(options) {
  if (options.codec !== 'msgpack') return undefined;
  const { jsonCodec, msgpackCodec } = await import('@lifeline/protocol');
  return [msgpackCodec, jsonCodec];
}

async function plugins(options) {
  if (!options.metrics) return [];
  const { metrics } = await import('@lifeline/metrics');
  return [metrics()];
}

export async function serve(options = {}) {
  const { createServer } = await import('@lifeline/server');
  const hold = new Hold();
  const server = createServer({
    port: 0,
    host: '127.0.0.1',
    maxInFlight: options.maxInFlight,
    plugins: await plugins(options),
    codecs: await codecs(options),
    handler: () => {
      const released = hold.wait();
      return released ? released.then(() => RESULT) : RESULT;
    },
  });
  await withDeadline(server.listen(), 5_000, 'lifeline server listen');
  return {
    port: server.port,
    block: () => hold.block(),
    release: () => hold.release(),
    close: () => withDeadline(server.close(), 3_000, 'lifeline server close'),
  };
}

/** A file outbox in a fresh temporary directory, removed again by `cleanup()`. */
async function outboxFor(options) {
  if (!options.fileOutbox) return { outbox: undefined, cleanup: async () => {} };
  const { fileOutbox } = await import('@lifeline/sdk/file-outbox');
  const dir = await mkdtemp(join(tmpdir(), 'lifeline-bench-'));
  return { outbox: fileOutbox(join(dir, 'outbox.log')), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * mode 'perf' keeps the client's defaults. 'memory' and 'replay' lift the queue bound (they hold
 * 10k–100k sends at once) and reconnect at once after a cut (the replay measure starts at the
 * reconnection, but a quick reconnect keeps the run short).
 */
export async function connect({ port, url = `ws://127.0.0.1:${port}`, options = {}, mode = 'perf' }) {
  const { createClient } = await import('@lifeline/sdk');
  const store = await outboxFor(options);
  const client = createClient({
    url,
    outbox: store.outbox,
    plugins: await plugins(options),
    codecs: await codecs(options),
    ackTimeoutMs: 120_000,
    maxInFlight: options.maxInFlight,
    ...(mode === 'perf'
      ? {}
      : { maxQueued: { messages: Infinity, bytes: Infinity }, reconnect: { minDelayMs: 0, maxDelayMs: 20, minUptimeMs: 0 } }),
  });
  await client.connect({ timeoutMs: 5_000 });
  const peer = {
    /** The SDK client itself, for a bench that needs more than `send()` (pushes: engines.mjs). */
    client,
    onAck: () => {},
    onError: () => {},
    fire() {
      client.send(PAYLOAD).then(ack, fail);
    },
    unflushed: () => 0,
    /** Resolves with `performance.now()` when the client is open again after a drop. */
    nextReconnect: () =>
      new Promise((resolve) => {
        const onState = (state) => {
          if (state !== 'open') return;
          client.off('state', onState);
          resolve(performance.now());
        };
        client.on('state', onState);
      }),
    close: () => withDeadline(client.close({ timeoutMs: 2_000 }), 3_000, 'lifeline client close').finally(store.cleanup),
  };
  const ack = () => peer.onAck();
  const fail = (e) => peer.onError(e);
  client.on('error', () => {});
  return peer;
}
