import { describe, expect, it } from 'vitest';
import {
  AbortError,
  ClosedError,
  PayloadTooLargeError,
  QueueFullError,
  msgpackCodec,
  type Json,
  type LifelinePlugin,
  type PluginContext,
} from '../src/index.js';
import { PluginHost, SendQueue, jsonEncoder, type FrameEncoder, type SendQueueOptions } from '../src/internal.js';
import { frameOversize, idUnitOf } from '../src/outgoing.js';

const ctx: PluginContext = { side: 'client', sessionId: 's' };

/** The shared queue with per-message answers, writing to an array: no socket, no peer. */
class TestQueue extends SendQueue {
  readonly frames: Array<{ seq: number; id: string; d: Json }> = [];
  open = true;

  constructor(options: Partial<SendQueueOptions> = {}) {
    super({
      what: 'send()',
      ackTimeoutMs: 60_000,
      window: 3,
      maxQueued: { messages: 100, bytes: 1_000_000 },
      maxWaiting: { messages: 100, bytes: 1_000_000 },
      overflow: 'wait',
      retransmitSettled: true,
      handledRejections: true,
      plugins: new PluginHost(undefined, () => {}),
      now: () => performance.now(),
      wallClock: Date.now,
      ...options,
    });
  }

  protected writable(): boolean {
    return this.open;
  }

  protected write(frame: string): void {
    this.frames.push(JSON.parse(frame) as { seq: number; id: string; d: Json });
  }

  protected context(): PluginContext {
    return ctx;
  }

  answer(seq: number): void {
    const m = this.inFlight.take(seq);
    if (m?.live) this.answered(m, `r${seq}`, 0);
    this.pump();
  }

  connected(win: number): void {
    this.window = win;
  }

  restart(): string[] {
    return this.restartSequence().map((m) => m.id);
  }

  sent(): number[] {
    const seqs = this.frames.map((f) => f.seq);
    this.frames.length = 0;
    return seqs;
  }
}

const outcome = (p: Promise<unknown>) => p.then((v) => v, (e: unknown) => e);

describe('SendQueue', () => {
  it('counts the window as a span of seqs from the oldest one awaited, not as a count (chaos seed 88)', async () => {
    const q = new TestQueue({ window: 3 });
    const sends = [1, 2, 3, 4, 5].map((d) => q.send(d, undefined));
    expect(q.sent()).toEqual([1, 2, 3]);
    q.answer(3);
    q.answer(2);
    expect(q.sent()).toEqual([]); // seq 1 is still awaited: seq 4 would pass 1 + 3
    q.answer(1);
    expect(q.sent()).toEqual([4, 5]);
    q.answer(4);
    q.answer(5);
    expect(await Promise.all(sends)).toEqual(['r1', 'r2', 'r3', 'r4', 'r5']);
    expect(q.pending).toBe(0);
  });

  it('retransmits what is in flight, in seq order, before anything new; a zombie too when its own answer frees its slot', async () => {
    const q = new TestQueue({ window: 4 });
    const ac = new AbortController();
    const a = q.send('a', undefined);
    const zombie = outcome(q.send('z', { signal: ac.signal }));
    const c = q.send('c', undefined);
    expect(q.sent()).toEqual([1, 2, 3]);
    ac.abort();
    expect(await zombie).toMatchObject({ name: 'AbortError', maybeDelivered: true });
    q.open = false;
    const d = q.send('d', undefined);
    expect(q.retransmit()).toBe(3);
    q.open = true;
    q.pump();
    expect(q.frames.map((f) => [f.seq, f.d])).toEqual([
      [1, 'a'],
      [2, 'z'],
      [3, 'c'],
      [4, 'd'],
    ]);
    for (const seq of [1, 2, 3, 4]) q.answer(seq);
    expect(await Promise.all([a, c, d])).toEqual(['r1', 'r3', 'r4']);

    const cumulative = new TestQueue({ window: 4, retransmitSettled: false });
    const ac2 = new AbortController();
    void outcome(cumulative.send('z', { signal: ac2.signal }));
    const live = cumulative.send('b', undefined);
    ac2.abort();
    cumulative.sent();
    expect(cumulative.retransmit()).toBe(1);
    cumulative.pump();
    expect(cumulative.sent()).toEqual([2]);
    cumulative.answer(2);
    expect(await live).toBe('r2');
  });

  it('stops a retransmission at a smaller window and at backpressure, and carries on from there', () => {
    const q = new TestQueue({ window: 4 });
    for (const d of [1, 2, 3, 4]) void q.send(d, undefined);
    q.sent();
    q.retransmit();
    q.connected(2); // a new connection announced a smaller window
    q.pump();
    expect(q.sent()).toEqual([1, 2]);
    q.answer(1);
    expect(q.sent()).toEqual([3]);
  });

  it("bounds the waiting list of overflow 'wait', and refuses a payload larger than the queue's byte bound", async () => {
    const drops: string[] = [];
    const plugin: LifelinePlugin = { name: 'drops', onDrop: (e) => void drops.push(e.reason) };
    const q = new TestQueue({
      window: 1,
      maxQueued: { messages: 1, bytes: 10 },
      maxWaiting: { messages: 2, bytes: 100 },
      plugins: new PluginHost([plugin], () => {}),
    });
    q.open = false;
    const accepted = [q.send(1, undefined), q.send(2, undefined), q.send(3, undefined)]; // queued, waiting, waiting
    expect(await outcome(q.send(4, undefined))).toBeInstanceOf(QueueFullError);
    expect(await outcome(q.send('x'.repeat(20), undefined))).toBeInstanceOf(PayloadTooLargeError);
    expect(drops).toEqual(['queue-full', 'payload-too-large']);
    q.open = true;
    for (let seq = 1; seq <= 3; seq++) {
      q.pump();
      expect(q.sent()).toEqual([seq]);
      q.answer(seq);
    }
    expect(await Promise.all(accepted)).toEqual(['r1', 'r2', 'r3']);
  });

  it('aborts a queued message without a seq; the next one takes the seq it would have had', async () => {
    const q = new TestQueue();
    q.open = false;
    const ac = new AbortController();
    const dropped = outcome(q.send('dropped', { signal: ac.signal }));
    const kept = q.send('kept', undefined);
    ac.abort();
    const error = (await dropped) as AbortError;
    expect(error).toBeInstanceOf(AbortError);
    expect(error.maybeDelivered).toBe(false);
    q.open = true;
    q.pump();
    expect(q.frames.map((f) => [f.seq, f.d])).toEqual([[1, 'kept']]);
    q.answer(1);
    expect(await kept).toBe('r1');
  });

  it('after a restart of the sequence, sends what was in flight first, under its ids, with seqs from 1', () => {
    const q = new TestQueue({ window: 8 });
    for (const id of ['a', 'b']) void q.send(id, { id });
    q.answer(1);
    q.open = false;
    void q.send('c', { id: 'c' });
    expect(q.restart()).toEqual(['b']);
    q.frames.length = 0;
    q.open = true;
    q.pump();
    expect(q.frames.map((f) => [f.seq, f.id])).toEqual([
      [1, 'b'],
      [2, 'c'],
    ]);
  });

  it('encodes each payload once with its codec, and a binary codec\'s id and a msg frame at each transmission', () => {
    const calls = { value: 0, msg: 0 };
    // Units are bytes: nothing in the queue may take them for JSON text.
    const bytes: FrameEncoder<unknown> = {
      ...(jsonEncoder as FrameEncoder<unknown>),
      value: (v) => (calls.value++, Buffer.from(jsonEncoder.value(v))),
      msg: (seq, id, ts, d) => (calls.msg++, Buffer.from(jsonEncoder.msg(seq, String(id), ts, String(d)))),
      size: (unit) => (unit as Buffer).length,
    };
    const q = new TestQueue({ window: 8, codec: bytes });
    void q.send({ a: 'é' }, { id: 'x' });
    void q.send([1, 2], { id: 'y' });
    // Two payloads at send(), two ids at the first transmission: an id is not held encoded.
    expect(calls).toEqual({ value: 4, msg: 2 });
    q.retransmit();
    q.pump();
    expect(calls).toEqual({ value: 6, msg: 4 });
    expect(q.frames.map((f) => [f.seq, f.id, f.d])).toEqual([
      [1, 'x', { a: 'é' }],
      [2, 'y', [1, 2]],
      [1, 'x', { a: 'é' }],
      [2, 'y', [1, 2]],
    ]);
  });

  it('frames an id that needs JSON escaping at every transmission, as it frames a plain one', () => {
    const q = new TestQueue({ window: 8 });
    const odd = 'a"b\\c\u0001é';
    void q.send(1, { id: odd });
    void q.send(2, { id: 'plain-id' });
    q.retransmit();
    q.pump();
    expect(q.frames.map((f) => f.id)).toEqual([odd, 'plain-id', odd, 'plain-id']);
  });

  it('sizes a MessagePack frame near the limit with its id, which the message does not hold encoded', () => {
    const id = 'V1StGXR8_Z5jdHi6B-myT';
    const d = msgpackCodec.value('x'.repeat(200));
    const real = msgpackCodec.msg(70_000, msgpackCodec.value(id), Date.now(), d).length;
    expect(idUnitOf(msgpackCodec as FrameEncoder<unknown>, id)).toBeUndefined();
    expect(frameOversize(msgpackCodec as FrameEncoder<unknown>, d, undefined, real - 1, id)).toBeGreaterThanOrEqual(real);
    expect(frameOversize(msgpackCodec as FrameEncoder<unknown>, d, undefined, real + 64, id)).toBe(0);
  });

  it('bounds the bytes in flight by maxInFlightBytes, and lets a message larger than the bound go alone', () => {
    const q = new TestQueue({ window: 10, maxInFlightBytes: 10 });
    for (const d of ['aaaa', 'bbbb', 'cccccccccccc', 'dd']) void q.send(d, undefined); // 6, 6, 14 and 4 characters of JSON
    expect(q.sent()).toEqual([1]); // 6 + 6 > 10
    q.answer(1);
    expect(q.sent()).toEqual([2]); // 6 + 14 > 10
    q.answer(2);
    expect(q.sent()).toEqual([3]); // alone, over the bound: nothing else is in flight
    q.answer(3);
    expect(q.sent()).toEqual([4]);
  });

  it("holds a send to its own timeoutMs and every other to the queue's ackTimeoutMs", async () => {
    const q = new TestQueue({ window: 10 });
    const own = q.send('a', { timeoutMs: 20 });
    let other: unknown = 'pending';
    q.send('b', undefined).then(
      (v) => (other = v),
      (e: unknown) => (other = e),
    );
    const sameAsQueue = q.send('c', { timeoutMs: 60_000 });
    await expect(own).rejects.toThrow(/within 20 ms \(it may have been delivered\)/);
    expect(other).toBe('pending');
    q.answer(2);
    q.answer(3);
    await expect(sameAsQueue).resolves.toBe('r3');
    expect(other).toBe('r2');
  });

  it('ends: everything pending fails, new sends are refused, nothing is an unhandled rejection', async () => {
    const q = new TestQueue({ window: 1 });
    const pending = [q.send(1, undefined), q.send(2, undefined)].map(outcome);
    q.end(
      (m) => new ClosedError(`closed before ${m.id}`, { maybeDelivered: m.transmitted }),
      () => new ClosedError('closed'),
    );
    const [inFlight, queued] = (await Promise.all(pending)) as ClosedError[];
    expect([inFlight?.maybeDelivered, queued?.maybeDelivered]).toEqual([true, false]);
    expect(await outcome(q.send(3, undefined))).toBeInstanceOf(ClosedError);
    void q.send(4, undefined); // handledRejections: vitest would fail the run on an unhandled one
    expect(q.pending).toBe(0);
  });
});
