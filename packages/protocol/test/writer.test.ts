import { describe, expect, it, vi } from 'vitest';
import { jsonCodec } from '../src/index.js';
import { FrameWriter } from '../src/internal.js';

describe('FrameWriter', () => {
  it("tells an object sink it is idle once its turn's flush left nothing due, and may then serve another sink", async () => {
    const sent: string[] = [];
    const idle: string[] = [];
    const first = { writeMessage: (m: string) => sent.push(`first ${m}`), writerIdle: () => idle.push('first') };
    const w = new FrameWriter<string>(jsonCodec, first);
    w.push('{"a":1}');
    // Busy (a flush is due): it may not change hands.
    expect(() => w.reuse(jsonCodec, first, undefined)).toThrow(/reused while/);
    await Promise.resolve();
    expect(sent).toEqual(['first {"a":1}']);
    expect(idle).toEqual(['first']);
    const second = { writeMessage: (m: string) => sent.push(`second ${m}`), writerIdle: () => idle.push('second') };
    const pulled = ['{"ack":1}'];
    w.reuse(jsonCodec, second, { takeFrame: () => pulled.shift() });
    w.push('{"b":2}');
    await Promise.resolve();
    expect(sent).toEqual(['first {"a":1}', 'second [{"b":2},{"ack":1}]']);
    expect(idle).toEqual(['first', 'second']);
  });

  it('coalesces frames pushed in one turn into one message, flushed in a microtask', async () => {
    const sent: string[] = [];
    const w = new FrameWriter(jsonCodec, (m) => sent.push(m));
    w.push('{"a":1}');
    w.push('{"b":2}');
    expect(sent).toEqual([]);
    await Promise.resolve();
    expect(sent).toEqual(['[{"a":1},{"b":2}]']);
  });

  it('flushes the writers due in one turn in the order they asked; one whose sink throws holds back neither the others nor its own next flush', async () => {
    const sent: string[] = [];
    const thrown: unknown[] = [];
    // The failure surfaces as an uncaught exception through queueMicrotask: caught here instead.
    vi.stubGlobal('queueMicrotask', (fn: () => void) => {
      try {
        fn();
      } catch (error) {
        thrown.push(error);
      }
    });
    try {
      let fail = true;
      const a = new FrameWriter(jsonCodec, (m) => sent.push(`a ${m}`));
      const bad = new FrameWriter(jsonCodec, (m) => {
        if (fail) throw new Error('socket gone');
        sent.push(`bad ${m}`);
      });
      const c = new FrameWriter(jsonCodec, (m) => sent.push(`c ${m}`));
      c.push('{"c":1}');
      bad.push('{"x":1}');
      a.push('{"a":1}');
      await Promise.resolve();
      expect(sent).toEqual(['c {"c":1}', 'a {"a":1}']);
      expect(thrown).toEqual([new Error('socket gone')]);
      fail = false;
      bad.push('{"x":2}');
      await Promise.resolve();
      expect(sent).toEqual(['c {"c":1}', 'a {"a":1}', 'bad {"x":2}']);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('sends a lone frame bare, not as a batch', async () => {
    const sent: string[] = [];
    const w = new FrameWriter(jsonCodec, (m) => sent.push(m));
    w.push('{"a":1}');
    await Promise.resolve();
    expect(sent).toEqual(['{"a":1}']);
  });

  it('flushes early when a batch would pass maxSize', () => {
    const sent: string[] = [];
    const w = new FrameWriter(jsonCodec, (m) => sent.push(m), 10);
    w.push('{"a":111}');
    w.push('{"b":222}');
    expect(sent).toEqual(['{"a":111}']);
  });

  it('puts a batch of eagerFrames frames on the wire at once, during the run that pushes them', async () => {
    const sent: string[] = [];
    const w = new FrameWriter(jsonCodec, (m) => sent.push(m), 1024, undefined, undefined, 3);
    for (let i = 0; i < 7; i++) w.push(`{"n":${i}}`);
    expect(sent).toEqual(['[{"n":0},{"n":1},{"n":2}]', '[{"n":3},{"n":4},{"n":5}]']);
    await Promise.resolve();
    expect(sent[2]).toBe('{"n":6}');
    expect(sent).toHaveLength(3);
  });

  it('runs beforeFlush so aggregated frames join the same message', async () => {
    const sent: string[] = [];
    let run: string | undefined = '{"acks":1}';
    const w = new FrameWriter(
      jsonCodec,
      (m) => sent.push(m),
      1024,
      () => {
        if (run !== undefined) w.push(run);
        run = undefined;
      },
    );
    w.push('{"m":1}');
    await Promise.resolve();
    expect(sent).toEqual(['[{"m":1},{"acks":1}]']);
  });

  it('pulls its FlushProducer at every flush; gather() takes the frame ahead of one that must follow it; pullFrom(undefined) stops it', async () => {
    const sent: string[] = [];
    let run: string | undefined;
    const producer = { takeFrame: () => ((f) => ((run = undefined), f))(run) };
    const w = new FrameWriter(jsonCodec, (m) => sent.push(m), 1024, producer);
    run = '{"acks":1}';
    w.push('{"m":1}');
    await Promise.resolve();
    run = '{"acks":2}';
    w.gather();
    w.push('{"bye":1}');
    w.flush();
    w.pullFrom(undefined);
    run = '{"acks":3}';
    w.flush();
    expect(sent).toEqual(['[{"m":1},{"acks":1}]', '[{"acks":2},{"bye":1}]']);
    expect(run).toBe('{"acks":3}');
  });

  it('discard drops pending frames', async () => {
    const sent: string[] = [];
    const w = new FrameWriter(jsonCodec, (m) => sent.push(m));
    w.push('{"a":1}');
    w.discard();
    await Promise.resolve();
    expect(sent).toEqual([]);
  });

  it('joins a batch through its codec and measures frames with it', async () => {
    const sent: string[] = [];
    const codec = { ...jsonCodec, batch: (frames: readonly string[]) => `<${frames.join('|')}>`, size: () => 4 };
    const w = new FrameWriter(codec, (m) => sent.push(m), 8);
    w.push('a');
    w.push('b');
    w.push('c');
    await Promise.resolve();
    expect(sent).toEqual(['<a|b>', 'c']);
  });

  it('lingers once, to the end of the macrotask, while its producer expects more; never when it does not', async () => {
    const sent: string[] = [];
    let coming = true;
    let run: string[] = [];
    const producer = {
      takeFrame: () => (run.length === 0 ? undefined : ((f) => ((run = []), f))(`[${run.join(',')}]`)),
      lingers: () => run.length > 0 && coming,
    };
    const w = new FrameWriter(jsonCodec, (m) => sent.push(m), 1024, producer);
    run.push('1');
    w.schedule();
    await Promise.resolve();
    // Two more settle in microtasks of their own: they join the same message.
    run.push('2');
    await Promise.resolve();
    run.push('3');
    w.schedule();
    expect(sent).toEqual([]);
    // Still "coming" at the end of the macrotask: it goes anyway (one linger, not more).
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent).toEqual(['[1,2,3]']);
    // Nothing coming: a lone frame leaves in the microtask, as before.
    coming = false;
    run.push('4');
    w.schedule();
    await Promise.resolve();
    expect(sent).toEqual(['[1,2,3]', '[4]']);
    // pullFrom(undefined) forgets the producer's linger with the producer.
    w.pullFrom(undefined);
    coming = true;
    w.push('{"m":1}');
    await Promise.resolve();
    expect(sent).toEqual(['[1,2,3]', '[4]', '{"m":1}']);
  });
});
