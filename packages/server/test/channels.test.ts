import { afterEach, describe, expect, it } from 'vitest';
import { jsonCodec, type Codec } from '@lifeline/protocol';
import { CloseCode, ChannelLimitError, LifelineError, memoryEngine, type Engine } from '../src/index.js';
import { RawClient, closeAll, poll, startServer, urlOf } from '@lifeline/test-kit';
import { offsets, queued, range, settled, subscribe, take } from './channels-kit.js';
import { jsonBytes } from './json-bytes.js';

afterEach(closeAll);

// Guarantee 9 on the server side, with clients that speak the channel frames by hand
// (protocol.md, "Channels"). Real sockets on 127.0.0.1, port 0; every wait has a deadline.

describe('publish and fan-out', () => {
  it('every subscriber gets pub 1..N in order, with the payload, offset, epoch and id as stored', async () => {
    const server = await startServer();
    const clients = await Promise.all(range(1, 5).map(async () => (await RawClient.connect(urlOf(server))).client));
    const oks = await Promise.all(clients.map((c) => subscribe(c, 'room:1')));
    expect(oks.every((f) => f.t === 'subok' && f.offset === 0)).toBe(true);
    const N = 300;
    const results = [];
    for (let i = 1; i <= N; i++) results.push(await server.publish('room:1', { i }, i === 7 ? { id: 'seven' } : {}));
    expect(results.map((r) => r.offset)).toEqual(range(1, N));
    expect(results[0]).toEqual({ channel: 'room:1', offset: 1, epoch: oks[0]?.epoch });
    for (const c of clients) {
      // The window (256) is reached before N: pack as they come, as a client does.
      const got = await take(c, 'room:1', 200);
      c.send({ t: 'pack', ch: 'room:1', offset: 200 });
      got.push(...(await take(c, 'room:1', N - 200)));
      expect(offsets(got)).toEqual(range(1, N));
      expect(got.map((f) => f.d.i)).toEqual(range(1, N));
      expect(got[6]).toMatchObject({ id: 'seven', epoch: oks[0]?.epoch });
      expect(got[0]).not.toHaveProperty('id');
    }
  });

  it('publish is idempotent by id: stored once, fanned out once, resolves with the first offset', async () => {
    const server = await startServer();
    const { client } = await RawClient.connect(urlOf(server));
    await subscribe(client, 'orders');
    const first = await server.publish('orders', { qty: 1 }, { id: 'order-1' });
    await server.publish('orders', { other: true });
    const again = await server.publish('orders', { qty: 1, retried: true }, { id: 'order-1' });
    expect(again).toEqual(first);
    await settled(client);
    expect(offsets(queued(client, 'orders', 'pub'))).toEqual([1, 2]);
    const page = await server.history('orders', { limit: 10 });
    expect(page.publications.map((p) => [p.offset, p.id, p.data])).toEqual([
      [1, 'order-1', { qty: 1 }],
      [2, undefined, { other: true }],
    ]);
    expect(page).toMatchObject({ offset: 2, epoch: first.epoch });
  });

  it('refuses a bad channel name or data JSON cannot carry with a TypeError; a client may not publish', async () => {
    const server = await startServer();
    await expect(server.publish('no spaces', 1)).rejects.toThrow(TypeError);
    await expect(server.publish('x'.repeat(256), 1)).rejects.toThrow(TypeError);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    await expect(server.publish('room', cycle)).rejects.toThrow(TypeError);
    await expect(server.publish('room', 1, { id: '' })).rejects.toThrow(TypeError);
    await expect(server.history('room', { limit: -1 })).rejects.toThrow(TypeError);
    const { client } = await RawClient.connect(urlOf(server));
    client.send({ t: 'pub', ch: 'room', offset: 1, epoch: 'e', ts: 1, d: 'forged' });
    expect(await client.closedWith()).toBe(CloseCode.BadFrame);
  });

  it('history pages from a cursor; presence lists every member', async () => {
    const server = await startServer();
    for (let i = 1; i <= 10; i++) await server.publish('feed', i);
    const page = await server.history('feed', { since: 3, limit: 4 });
    expect(page.publications.map((p) => p.data)).toEqual([4, 5, 6, 7]);
    expect(page.offset).toBe(10);
    expect(await server.presence('feed')).toEqual([]);
  });
});

describe('recovery from a position (sub.since)', () => {
  it('replays what the history holds after since, then goes live', async () => {
    const server = await startServer();
    let epoch = '';
    for (let i = 1; i <= 10; i++) epoch = (await server.publish('room', i)).epoch;
    const { client } = await RawClient.connect(urlOf(server));
    const ok = await subscribe(client, 'room', { since: { offset: 4, epoch } });
    expect(ok).toMatchObject({ t: 'subok', offset: 10, epoch, recovered: true });
    expect(offsets(await take(client, 'room', 6))).toEqual(range(5, 10));
    await server.publish('room', 11);
    await server.publish('room', 12);
    expect(offsets(await take(client, 'room', 2))).toEqual([11, 12]);
    await settled(client);
    expect(queued(client, 'room')).toEqual([]);
  });

  it('a lapsed since gets one gap (evicted) first, then the rest', async () => {
    const server = await startServer({ channels: { historySize: 5 } });
    let epoch = '';
    for (let i = 1; i <= 20; i++) epoch = (await server.publish('room', i)).epoch;
    const { client } = await RawClient.connect(urlOf(server));
    expect(await subscribe(client, 'room', { since: { offset: 3, epoch } })).toMatchObject({ t: 'subok', offset: 20, recovered: false });
    const frames = await take(client, 'room', 6);
    expect(frames[0]).toMatchObject({ t: 'gap', from: 4, to: 15, epoch, reason: 'evicted' });
    expect(offsets(frames)).toEqual(range(16, 20));
  });

  it('another epoch gets a gap (epoch) naming what the new history lost, then the new epoch', async () => {
    const server = await startServer({ channels: { historySize: 5 } });
    let epoch = '';
    for (let i = 1; i <= 8; i++) epoch = (await server.publish('room', i)).epoch;
    const { client } = await RawClient.connect(urlOf(server));
    expect(await subscribe(client, 'room', { since: { offset: 50, epoch: 'an-older-history' } })).toMatchObject({ offset: 8, epoch, recovered: false });
    const frames = await take(client, 'room', 6);
    expect(frames[0]).toMatchObject({ t: 'gap', from: 1, to: 3, epoch, reason: 'epoch' });
    expect(offsets(frames)).toEqual(range(4, 8));
  });

  it('a server restart (memory engine) changes the epoch: the subscriber gets gap epoch from 1 to 0, then 1..N of the new one', async () => {
    const first = await startServer();
    const old = await first.publish('room', 'before');
    await first.close();
    const server = await startServer();
    await server.publish('room', 'after');
    const { client } = await RawClient.connect(urlOf(server));
    const ok = await subscribe(client, 'room', { since: { offset: old.offset, epoch: old.epoch } });
    expect(ok.epoch).not.toBe(old.epoch);
    const frames = await take(client, 'room', 2);
    expect(frames[0]).toMatchObject({ t: 'gap', from: 1, to: 0, reason: 'epoch', epoch: ok.epoch });
    expect(frames[1]).toMatchObject({ t: 'pub', offset: 1, d: 'after' });
  });
});

describe('authorize', () => {
  it('a refusal is suberr ERR_UNAUTHORIZED; other subscribers and the connection are untouched', async () => {
    const asked: string[] = [];
    const server = await startServer({
      channels: {
        authorize: async (session, ch) => {
          asked.push(`${session.id}:${ch}`);
          return !ch.startsWith('private:');
        },
      },
    });
    const a = (await RawClient.connect(urlOf(server))).client;
    const b = (await RawClient.connect(urlOf(server))).client;
    expect(await subscribe(a, 'private:7')).toMatchObject({ t: 'suberr', code: 'ERR_UNAUTHORIZED' });
    expect(await subscribe(b, 'room')).toMatchObject({ t: 'subok' });
    await server.publish('private:7', 'secret');
    await server.publish('room', 'hello');
    expect(offsets(await take(b, 'room', 1))).toEqual([1]);
    expect(await subscribe(a, 'room', { since: { offset: 0, epoch: (await server.history('room')).epoch } })).toMatchObject({ t: 'subok' });
    expect((await take(a, 'room', 1))[0]).toMatchObject({ d: 'hello' });
    await settled(a);
    expect(queued(a, 'private:7')).toEqual([]);
    expect(asked).toHaveLength(3);
  });

  it('is asked again on every sub of a new connection (subscriptions belong to the connection), and a throw is ERR_CHANNEL_UNAVAILABLE', async () => {
    let allow: boolean | 'throw' = true;
    const errors: unknown[] = [];
    const server = await startServer({
      channels: {
        authorize: () => {
          if (allow === 'throw') throw new Error('auth backend down');
          return allow;
        },
      },
    });
    server.on('error', (e) => errors.push(e));
    const { client, welcome } = await RawClient.connect(urlOf(server));
    await subscribe(client, 'room');
    client.ws.terminate();
    allow = false;
    const again = await RawClient.open(urlOf(server));
    expect(await again.hello({ resume: { sid: welcome.sid, token: welcome.token, seq: 0 } })).toMatchObject({ resumed: true });
    expect(await subscribe(again, 'room', { since: { offset: 0, epoch: 'e' } })).toMatchObject({ t: 'suberr', code: 'ERR_UNAUTHORIZED' });
    allow = 'throw';
    expect(await subscribe(again, 'room')).toMatchObject({ t: 'suberr', code: 'ERR_CHANNEL_UNAVAILABLE' });
    expect(errors).toHaveLength(1);
  });
});

describe('limits and unsubscribing', () => {
  it('a second sub of one channel is ERR_ALREADY_SUBSCRIBED (the first goes on); past maxSubscriptions ERR_CHANNEL_LIMIT', async () => {
    const server = await startServer({ channels: { maxSubscriptions: 2 } });
    const { client } = await RawClient.connect(urlOf(server));
    expect(await subscribe(client, 'a')).toMatchObject({ t: 'subok' });
    expect(await subscribe(client, 'a')).toMatchObject({ t: 'suberr', code: 'ERR_ALREADY_SUBSCRIBED' });
    expect(await subscribe(client, 'b')).toMatchObject({ t: 'subok' });
    expect(await subscribe(client, 'c')).toMatchObject({ t: 'suberr', code: 'ERR_CHANNEL_LIMIT' });
    await server.publish('a', 1);
    expect(offsets(await take(client, 'a', 1))).toEqual([1]);
    client.send({ t: 'unsub', ch: 'b' });
    expect(await subscribe(client, 'c')).toMatchObject({ t: 'subok' });
  });

  it('unsub stops the publications, and a closed connection ends its subscriptions and the engine listener', async () => {
    const engine = countingEngine();
    const server = await startServer({ engine });
    const { client } = await RawClient.connect(urlOf(server));
    await subscribe(client, 'a');
    await subscribe(client, 'b');
    expect(engine.listening).toBe(2);
    client.send({ t: 'unsub', ch: 'a' });
    await settled(client);
    await server.publish('a', 1);
    await server.publish('b', 1);
    await settled(client);
    expect(queued(client, 'a')).toEqual([]);
    expect(offsets(queued(client, 'b', 'pub'))).toEqual([1]);
    expect(engine.listening).toBe(1);
    client.ws.close();
    await client.closed;
    await poll(() => engine.listening === 0, 'the engine listener to stop');
    await engine.close();
  });

  it('an engine bound is ERR_CHANNEL_LIMIT, a LifelineError', async () => {
    const engine = memoryEngine({ maxChannels: 1 });
    const server = await startServer({ engine });
    const { client } = await RawClient.connect(urlOf(server));
    expect(await subscribe(client, 'a')).toMatchObject({ t: 'subok' });
    expect(await subscribe(client, 'b')).toMatchObject({ t: 'suberr', code: 'ERR_CHANNEL_LIMIT' });
    const error = await server.publish('c', 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChannelLimitError);
    expect(error).toBeInstanceOf(LifelineError);
    expect((error as ChannelLimitError).code).toBe('ERR_CHANNEL_LIMIT');
    await engine.close();
  });

  it('validates the channels and engine options with TypeErrors', async () => {
    await expect(startServer({ channels: { window: 0 } })).rejects.toThrow(/channels.window/);
    await expect(startServer({ channels: { historySize: -1 } })).rejects.toThrow(TypeError);
    await expect(startServer({ channels: { maxSubscriptions: 1.5 } })).rejects.toThrow(TypeError);
    await expect(startServer({ channels: { authorize: 'yes' as never } })).rejects.toThrow(/authorize/);
    await expect(startServer({ engine: {} as Engine })).rejects.toThrow(/engine must implement Engine/);
  });
});

describe('encoded once', () => {
  it('one pub encoding per publication per codec, whatever the number of subscribers', async () => {
    let encodes = 0;
    const counting: Codec<string> = {
      ...jsonCodec,
      pub: (...args) => {
        encodes++;
        return jsonCodec.pub(...args);
      },
    };
    let encodesBytes = 0;
    const countingBytes: Codec<Buffer> = {
      ...jsonBytes,
      pub: (...args) => {
        encodesBytes++;
        return jsonBytes.pub(...args);
      },
    };
    const server = await startServer({ codecs: [counting, countingBytes] });
    const text = await Promise.all(range(1, 8).map(async () => (await RawClient.connect(urlOf(server))).client));
    const binary = await Promise.all(range(1, 4).map(async () => (await RawClient.connect(urlOf(server), { codecs: ['json-bytes'] })).client));
    for (const c of text) await subscribe(c, 'ticker');
    for (const c of binary) await subscribe(c, 'ticker', {}, true);
    const N = 50;
    for (let i = 1; i <= N; i++) await server.publish('ticker', { px: i });
    for (const c of [...text, ...binary]) expect(offsets(await take(c, 'ticker', N))).toEqual(range(1, N));
    console.log(`encode once: ${N} publications to ${text.length} json + ${binary.length} json-bytes subscribers: ${encodes} + ${encodesBytes} pub encodings`);
    expect(encodes).toBe(N);
    expect(encodesBytes).toBe(N);
  });
});

/** A memory engine that counts its live listeners. */
function countingEngine(): Engine & { readonly listening: number } {
  const inner = memoryEngine();
  let listening = 0;
  return {
    publish: inner.publish,
    history: inner.history,
    position: inner.position,
    presenceAdd: inner.presenceAdd,
    presenceRemove: inner.presenceRemove,
    presence: inner.presence,
    close: inner.close,
    async listen(channel: string, listener: Parameters<Engine['listen']>[1]) {
      const stop = await inner.listen(channel, listener);
      listening++;
      let stopped = false;
      return async () => {
        if (!stopped) listening--;
        stopped = true;
        await stop();
      };
    },
    get listening() {
      return listening;
    },
  };
}
