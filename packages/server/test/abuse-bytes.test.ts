import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MiB, RawClient, WireClient, closeAll, gate, memory, mib, nextEvent, poll, report, startServer, turn, urlOf, within, type AnyFrame } from '@lifeline/test-kit';
import { CloseCode, createServer, serverDefaults, type LifelinePlugin, type ProtocolErrorInfo, type ServerOptions } from '../src/index.js';
import { HIGH_WATER_BYTES } from '../src/connection.js';
import { jsonCodec } from '@lifeline/protocol';
import { ErrorOutcome, ResultCache } from '../src/results.js';

afterEach(closeAll);

/**
 * A server whose `authenticate` hands the test the server side of each socket: `isPaused()` on
 * it tells whether the server stopped reading (polled from a timer, after `ws`'s own short
 * pauses for its parser have ended).
 */
async function serverWithSockets(options: Partial<ServerOptions> = {}): Promise<{ server: Awaited<ReturnType<typeof startServer>>; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const authenticate = options.authenticate;
  const server = await startServer({
    ...options,
    authenticate: (auth, req, opts) => {
      sockets.push(req.socket);
      return authenticate === undefined ? 'user' : authenticate(auth, req, opts);
    },
  });
  return { server, sockets };
}

const msg = (seq: number, d: unknown = 0): AnyFrame => ({ t: 'msg', seq, id: `c${seq}`, ts: 0, d });

/** Write `message`; when the socket's buffer is full, wait for it to drain (or for `stop()`). */
async function write(client: WireClient, message: AnyFrame | AnyFrame[] | string, stop: () => boolean = () => false): Promise<void> {
  if (client.send(message)) return;
  const drained = new Promise<void>((resolve) => client.socket.once('drain', resolve));
  await Promise.race([drained, poll(stop, 'drain or stop', 10_000)]);
}

describe('options', () => {
  it('documents and validates the byte bounds', () => {
    expect(serverDefaults).toMatchObject({ maxResultCacheBytes: 4 * MiB, maxInboundBytes: 8 * MiB });
    const handler = (d: unknown) => d;
    const bad: object[] = [
      { maxResultCacheBytes: -1 },
      { maxResultCacheBytes: 1.5 },
      { maxResultCacheBytes: Number.NaN },
      { maxResultCacheBytes: '4MiB' },
      { maxInboundBytes: 0 },
      { maxInboundBytes: Infinity },
      { maxInboundBytes: 2.5 },
    ];
    for (const options of bad) expect(() => createServer({ handler, ...options }), JSON.stringify(options)).toThrow(TypeError);
    expect(() => createServer({ handler, maxResultCacheBytes: 0, maxInboundBytes: 1 })).not.toThrow();
  });

  it('the result cache evicts oldest first by characters as well as by count, and never keeps an outcome larger than itself', () => {
    const cache = new ResultCache(jsonCodec, 100, 10);
    cache.set(1, '"aaaa"'); // 6
    cache.set(2, '"bb"'); // 4: 10 in all
    expect([cache.get(1), cache.get(2)]).toEqual(['"aaaa"', '"bb"']);
    cache.set(3, '"c"'); // 13 > 10: 1 goes
    expect([cache.get(1), cache.get(2), cache.get(3)]).toEqual([undefined, '"bb"', '"c"']);
    expect(cache.heldChars).toBe(7);
    cache.set(4, `"${'x'.repeat(20)}"`); // larger than the cache: not kept, nothing evicted for it
    expect([cache.get(2), cache.get(3), cache.get(4)]).toEqual(['"bb"', '"c"', undefined]);
    cache.set(5, new ErrorOutcome('{"code":"E","message":""}')); // an error of 25 characters is larger too
    expect(cache.size).toBe(2);
    cache.clear();
    expect([cache.size, cache.heldChars]).toEqual([0, 0]);
  });
});

describe('duplicate amplification', () => {
  it('answers 40 batches of 4,096 copies of a message with a 16 KiB result once, from a client that stopped reading; the heap stays flat', async () => {
    const result = 'r'.repeat(16 * 1024);
    let out = 0;
    let duplicates = 0;
    const batches = 40;
    const copies = 4_096;
    const allRead = gate();
    const plugin: LifelinePlugin = {
      name: 'meter',
      onBytes: (e) => {
        out += e.out;
      },
      onReceive: (e) => {
        if (e.duplicate && ++duplicates === batches * copies) allRead.open();
      },
    };
    let calls = 0;
    const server = await startServer({
      plugins: [plugin],
      handler: () => {
        calls++;
        return result;
      },
    });
    const client = await WireClient.connect(server.port);
    const welcome = await client.hello();
    client.send(msg(1));
    expect(await client.next((f) => f.t === 'ack')).toEqual({ t: 'ack', seq: 1, r: result });
    client.stopReading();

    const before = memory();
    const outBefore = out;
    const batch = JSON.stringify(Array.from({ length: copies }, () => msg(1)));
    for (let i = 0; i < batches; i++) await write(client, batch);
    await within(allRead.promise, 'the server reading every copy', 20_000);
    const after = memory();
    const growth = report(`${batches} × ${copies} duplicates of a 16 KiB result (${mib(batches * batch.length)} MiB sent)`, before, after);
    console.log(`  written by the server for them: ${out - outBefore} bytes`);

    // One answer for the first copy; every later copy on this connection gets none.
    expect(out - outBefore).toBeGreaterThanOrEqual(result.length);
    expect(out - outBefore).toBeLessThan(2 * result.length);
    expect(calls).toBe(1);
    // It used to be 16 KiB per copy (2.5 GiB for these 163,840): out of memory at about 640 MB.
    expect(growth).toBeLessThan(32 * MiB);

    // A resumed connection is answered again, once: that is what a real retransmission needs.
    const back = await RawClient.open(urlOf(server));
    expect(await back.hello({ resume: { sid: welcome.sid, token: welcome.token, seq: 0 } })).toMatchObject({ resumed: true });
    back.sendMsgs([{ seq: 1, d: 0 }]);
    back.sendMsgs([{ seq: 1, d: 0 }]);
    back.send({ t: 'ping', ts: 1 });
    await back.next((f) => f.t === 'pong');
    expect(back.pending.filter((f) => f.t === 'ack')).toEqual([{ t: 'ack', seq: 1, r: result }]);
    expect(calls).toBe(1);
  });

  it('stops reading and handling for a client that does not read once its answers pass the write high-water mark, and answers everything in order when it reads again', async () => {
    const result = 'r'.repeat(16 * 1024);
    let calls = 0;
    const { server, sockets } = await serverWithSockets({
      handler: () => {
        calls++;
        return result;
      },
    });
    const client = await WireClient.connect(server.port);
    await client.hello();
    const socket = sockets[0] as Socket;
    client.stopReading();

    const before = memory();
    // Batches of 64 new messages, each answered with 16 KiB: 1 MiB of answers per 3 KiB sent.
    const perBatch = 64;
    let sent = 0;
    const paused = () => socket.isPaused();
    while (!paused() && sent < 4_096) {
      await write(client, Array.from({ length: perBatch }, (_, i) => msg(sent + i + 1)), paused);
      sent += perBatch;
      await turn();
    }
    await poll(paused, 'the server pausing its reads');
    const handled = calls;
    const after = memory();
    const growth = report(`answers of 16 KiB to a client that stopped reading (${handled} handled, ${sent} sent)`, before, after);
    // Reading stopped, and so did handling: the server holds about the high-water mark of answers
    // plus its result cache; the requests read before the pause wait, small, in the handler
    // queue, and the rest in the kernel. (Answering the rest of that socket read held 21 MiB.)
    expect(growth).toBeLessThan(HIGH_WATER_BYTES + serverDefaults.maxResultCacheBytes + 8 * MiB);

    // It reads again: every message is handled once and answered, in order.
    client.startReading();
    const seqs = await client.ackedSeqs(sent, 20_000);
    expect(seqs).toEqual(Array.from({ length: sent }, (_, i) => i + 1));
    expect(calls).toBe(sent);
  });
});

describe('frames held behind hello', () => {
  it('stops reading while authenticate runs and frames are held, and handles them all once it is done', async () => {
    const auth = gate<unknown>();
    const asked = gate();
    const { server, sockets } = await serverWithSockets({
      handler: (_d, ctx) => ctx.seq,
      authenticate: () => {
        asked.open();
        return auth.promise;
      },
    });
    const client = await WireClient.connect(server.port);
    client.send({ t: 'hello', v: 1 });
    await within(asked.promise, 'authenticate being called', 2_000);
    const socket = sockets[0] as Socket;

    const before = memory();
    // 512 KiB frames: before, maxInFlight + 64 of them (544 MiB) were read and held.
    const payload = 'p'.repeat(512 * 1024);
    let sent = 0;
    const paused = () => socket.isPaused();
    while (!paused() && sent < 200) {
      await write(client, msg(++sent, payload), paused);
      await turn();
    }
    await poll(paused, 'the server pausing its reads');
    const after = memory();
    const growth = report(`512 KiB frames behind a slow authenticate (${sent} sent)`, before, after);
    expect(growth).toBeLessThan(32 * MiB);

    auth.open('user');
    expect(await client.next((f) => f.t === 'welcome')).toMatchObject({ resumed: false });
    expect(await client.ackedSeqs(sent, 10_000)).toEqual(Array.from({ length: sent }, (_, i) => i + 1));
  });

  it('closes with 4400 a connection that sends more than maxInboundBytes before welcome', async () => {
    const auth = gate<unknown>();
    const asked = gate();
    const server = await startServer({
      maxInboundBytes: 64 * 1024,
      authenticate: () => {
        asked.open();
        return auth.promise;
      },
    });
    const errors: ProtocolErrorInfo[] = [];
    server.on('protocol-error', (e) => errors.push(e));
    const client = await WireClient.connect(server.port);
    client.send({ t: 'hello', v: 1 });
    await within(asked.promise, 'authenticate being called', 2_000);
    client.send(msg(1, 'p'.repeat(100 * 1024)));
    expect(await client.closedWith()).toBe(CloseCode.BadFrame);
    expect(errors).toEqual([expect.objectContaining({ code: 4400, reason: 'more than 65536 bytes before welcome' })]);
    auth.open('user'); // too late: no session starts
    expect(server.sessions.size).toBe(0);
  });
});

describe("the handler's queue", () => {
  it('65,535 tiny messages (the default window) behind a busy handler: the heap grows by a few MiB, and all are answered once', async () => {
    const release = gate();
    let calls = 0;
    const server = await startServer({
      handler: async (_d, ctx) => {
        calls++;
        await release.promise;
        return ctx.seq;
      },
    });
    const { client, welcome } = await RawClient.connect(urlOf(server));
    const win = welcome.win as number;
    expect(win).toBe(serverDefaults.maxInFlight);
    const before = memory();
    for (let first = 1; first <= win; first += 512) {
      client.sendMsgs(Array.from({ length: Math.min(512, win - first + 1) }, (_, i) => ({ seq: first + i, d: 0 })));
    }
    // A ping behind them: its pong means the server read every message before it.
    client.send({ t: 'ping', ts: 1 });
    await client.next((f) => f.t === 'pong', 10_000);
    const after = memory();
    const grown = report(`${win} tiny messages queued behind a busy handler`, before, after, `${calls} handler call(s) running`);
    // ~40 bytes each on the wire (2.6 MB): the queue holds the parsed frames, under 32 MiB.
    expect(grown).toBeLessThan(32 * MiB);
    release.open();
    let answered = 0;
    while (answered < win) {
      const f = await client.next((x) => x.t === 'ack' || x.t === 'acks', 10_000);
      answered += f.t === 'acks' ? (f.r as unknown[]).length : 1;
    }
    expect(calls).toBe(win);
  }, 60_000);


  const HB_INTERVAL_MS = 200;
  const HB_TIMEOUT_MS = 1_000;

  it('stops reading past maxInboundBytes behind a busy handler, with no heartbeat drop, and resumes when it drains', async () => {
    const release = gate();
    let calls = 0;
    // The heartbeat is judged every 200 ms with a 1 s timeout: the 50 MB backlog read after the
    // release must not outlast it on a loaded machine (a 200 ms timeout did, in a CI-like run).
    const { server, sockets } = await serverWithSockets({
      heartbeatIntervalMs: HB_INTERVAL_MS,
      heartbeatTimeoutMs: HB_TIMEOUT_MS,
      handler: async (_d, ctx) => {
        calls++;
        await release.promise;
        return ctx.seq;
      },
    });
    const client = await WireClient.connect(server.port);
    const welcome = await client.hello();
    const session = server.sessions.get(welcome.sid as string);
    let detaches = 0;
    session?.on('detach', () => detaches++);
    const socket = sockets[0] as Socket;

    const before = memory();
    // 256 KiB messages inside the window of 1024: before, 256 MiB queued for one session.
    const payload = 'p'.repeat(256 * 1024);
    let sent = 0;
    const paused = () => socket.isPaused();
    while (!paused() && sent < 200) {
      await write(client, msg(++sent, payload), paused);
      await turn();
    }
    await poll(paused, 'the server pausing its reads');
    const after = memory();
    const growth = report(`256 KiB messages behind a busy handler (${sent} sent, maxInboundBytes ${mib(serverDefaults.maxInboundBytes)} MiB)`, before, after);
    expect(calls).toBe(1);
    expect(growth).toBeLessThan(serverDefaults.maxInboundBytes + 32 * MiB);

    // Paused for four heartbeat timeouts: the silence is the server's, so the connection stays.
    const firstPing = (await client.next((f) => f.t === 'ping')).ts as number;
    for (;;) {
      const ts = (await client.next((f) => f.t === 'ping')).ts as number;
      if (ts - firstPing >= 4 * HB_TIMEOUT_MS) break;
    }
    expect(detaches).toBe(0);
    expect(session?.connected).toBe(true);

    release.open();
    expect(await client.ackedSeqs(sent, 30_000)).toEqual(Array.from({ length: sent }, (_, i) => i + 1));
    // Reading again: the session goes on.
    client.send(msg(sent + 1, 'after'));
    expect(await client.ackedSeqs(1)).toEqual([sent + 1]);
    expect(calls).toBe(sent + 1);
  }, 60_000);
});

describe('the result cache', () => {
  it('keeps at most maxResultCacheBytes of results for a detached session; older retransmissions get ERR_RESULT_EVICTED', async () => {
    const result = 'r'.repeat(64 * 1024);
    const count = 400;
    const server = await startServer({ handler: () => result });
    const { client, welcome } = await RawClient.connect(urlOf(server));
    const session = server.sessions.get(welcome.sid as string);
    const before = memory();
    for (let seq = 1; seq <= count; seq += 50) {
      client.sendMsgs(Array.from({ length: 50 }, (_, i) => ({ seq: seq + i, d: 0 })));
      await client.acks(50, 5_000);
    }
    const detached = nextEvent(session as never, 'detach');
    client.ws.terminate();
    await detached;
    client.messages.length = 0;
    const after = memory();
    const growth = report(`${count} results of 64 KiB held by a detached session (maxResultCacheBytes ${mib(serverDefaults.maxResultCacheBytes)} MiB)`, before, after);
    // Before, all 400 were kept (25 MiB) for the whole resume window.
    expect(growth).toBeLessThan(serverDefaults.maxResultCacheBytes + 8 * MiB);

    const back = await RawClient.open(urlOf(server));
    expect(await back.hello({ resume: { sid: welcome.sid, token: welcome.token, seq: 0 } })).toMatchObject({ resumed: true });
    back.sendMsgs([
      { seq: count - 100, d: 0 },
      { seq: count, d: 0 },
    ]);
    const [old, recent] = await back.acks(2);
    expect(old).toMatchObject({ seq: count - 100, e: { code: 'ERR_RESULT_EVICTED' } });
    expect(recent).toEqual({ seq: count, r: result });
  });
});
