import { afterEach, describe, expect, it } from 'vitest';
import { MiB, RawClient, closeAll, memory, report, startServer, urlOf } from '@lifeline/test-kit';
import { offsets, queued, range, settled, subscribe, take } from './channels-kit.js';

afterEach(closeAll);

// Flow control of channels (protocol.md, "Channels": window, pack, gap): a subscriber is a
// cursor into the history, so a slow one costs the server a few numbers, never a queue.

describe('window and pack', () => {
  it('a subscriber that does not pack gets exactly its window; each pack lets the next ones go, from the history', async () => {
    const server = await startServer({ channels: { window: 10 } });
    const { client } = await RawClient.connect(urlOf(server));
    await subscribe(client, 'ticks');
    for (let i = 1; i <= 30; i++) await server.publish('ticks', i);
    await settled(client);
    expect(offsets(queued(client, 'ticks', 'pub'))).toEqual(range(1, 10));
    expect(offsets(await take(client, 'ticks', 10))).toEqual(range(1, 10));
    client.send({ t: 'pack', ch: 'ticks', offset: 4 });
    expect(offsets(await take(client, 'ticks', 4))).toEqual(range(11, 14));
    client.send({ t: 'pack', ch: 'ticks', offset: 14 });
    expect(offsets(await take(client, 'ticks', 10))).toEqual(range(15, 24));
    client.send({ t: 'pack', ch: 'ticks', offset: 24 });
    expect(offsets(await take(client, 'ticks', 6))).toEqual(range(25, 30));
    // Caught up: live again, one publication at a time.
    await server.publish('ticks', 31);
    expect(offsets(await take(client, 'ticks', 1))).toEqual([31]);
    await settled(client);
    expect(queued(client, 'ticks')).toEqual([]);
  });

  it("the client's sub.win lowers the window; a pack above what was sent, or below an earlier one, changes nothing", async () => {
    const server = await startServer();
    const { client } = await RawClient.connect(urlOf(server));
    await subscribe(client, 'ticks', { win: 3 });
    for (let i = 1; i <= 10; i++) await server.publish('ticks', i);
    await settled(client);
    expect(offsets(queued(client, 'ticks', 'pub'))).toEqual([1, 2, 3]);
    await take(client, 'ticks', 3);
    client.send({ t: 'pack', ch: 'ticks', offset: 1_000 }); // only what was sent counts: 3
    expect(offsets(await take(client, 'ticks', 3))).toEqual([4, 5, 6]);
    client.send({ t: 'pack', ch: 'ticks', offset: 2 });
    await settled(client);
    expect(queued(client, 'ticks')).toEqual([]);
  });

  it('a subscriber that never packs gets exactly window pubs while 100,000 publications go by; the heap stays flat; a late pack gets one gap, then what the history holds', async () => {
    const window = 256;
    const historySize = 1_000;
    const server = await startServer({ channels: { window, historySize } });
    const { client } = await RawClient.connect(urlOf(server));
    const ok = await subscribe(client, 'firehose');
    const payload = { text: 'x'.repeat(100) };
    for (let i = 1; i <= 1_000; i++) await server.publish('firehose', payload); // warm up, fill the history
    const before = memory();
    const N = 100_000;
    for (let i = 1; i <= N; i++) await server.publish('firehose', payload);
    await settled(client);
    const after = memory();
    const got = queued(client, 'firehose', 'pub').length;
    const growth = report(`channels: ${N} publications of ~120 B to a subscriber that never packs (window ${window})`, before, after, `${got} pubs sent to it`);
    expect(got).toBe(window);
    expect(growth).toBeLessThan(32 * MiB);
    await take(client, 'firehose', window);
    client.send({ t: 'pack', ch: 'firehose', offset: window });
    const last = 1_000 + N;
    const frames = await take(client, 'firehose', 1 + 100);
    expect(frames[0]).toMatchObject({ t: 'gap', from: window + 1, to: last - historySize, epoch: ok.epoch, reason: 'evicted' });
    expect(offsets(frames)).toEqual(range(last - historySize + 1, last - historySize + 100));
  });

  it('with no history kept, a subscriber that falls behind the window gets a gap, never a silent hole', async () => {
    const server = await startServer({ channels: { window: 2, historySize: 0 } });
    const { client } = await RawClient.connect(urlOf(server));
    await subscribe(client, 'live');
    for (let i = 1; i <= 5; i++) await server.publish('live', i);
    expect(offsets(await take(client, 'live', 2))).toEqual([1, 2]);
    client.send({ t: 'pack', ch: 'live', offset: 2 });
    expect((await take(client, 'live', 1))[0]).toMatchObject({ t: 'gap', from: 3, to: 5, reason: 'evicted' });
    await server.publish('live', 6);
    expect(offsets(await take(client, 'live', 1))).toEqual([6]);
  });
});
