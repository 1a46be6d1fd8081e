import { afterEach, describe, expect, it } from 'vitest';
import { MAX_PAYLOAD_DEPTH } from '@lifeline/protocol/internal';
import { RemoteError } from '@lifeline/sdk';
import { client, closeAll, startServer } from '@lifeline/test-kit';

afterEach(closeAll);

/** A value nested `levels` deep (`[]` is 1). */
function nested(levels: number): unknown {
  let v: unknown = 'leaf';
  for (let i = 0; i < levels; i++) v = i % 2 === 0 ? [v] : { k: v };
  return v;
}

/**
 * Issue 10: the decoders allow 64 levels per frame, so a result may nest 63 levels as `ack.r` but
 * only 62 as an entry of `acks.r`. A 63-level result batched into `acks` made the client close
 * 4400 — and, its sends retransmitted on every reconnect, never come back.
 */
describe('payload depth, end to end', () => {
  it('pipelined results of 63 levels reach the client among shallow ones; 64 levels is an error for that send alone', async () => {
    const server = await startServer({ handler: (d) => (d === 'deep' ? nested(MAX_PAYLOAD_DEPTH) : d === 'deeper' ? nested(MAX_PAYLOAD_DEPTH + 1) : d) });
    const c = client(`ws://127.0.0.1:${server.port}`);
    const closes: number[] = [];
    c.on('disconnect', (info) => closes.push(info.code));
    await c.connect();
    const sends = ['a', 'deep', 'b', 'deep', 'deeper', 'c'].map((d) => c.send(d).then((r) => ({ r }), (e: unknown) => ({ e })));
    const outcomes = await Promise.all(sends);
    expect(outcomes.slice(0, 4)).toEqual([{ r: 'a' }, { r: nested(MAX_PAYLOAD_DEPTH) }, { r: 'b' }, { r: nested(MAX_PAYLOAD_DEPTH) }]);
    expect((outcomes[4] as { e: unknown }).e).toBeInstanceOf(RemoteError);
    expect(outcomes[5]).toEqual({ r: 'c' });
    expect(closes).toEqual([]);
    expect(c.state).toBe('open');
    // And the other way: what the server could not deliver is refused at send(), not on the wire.
    await expect(c.send(nested(MAX_PAYLOAD_DEPTH + 1))).rejects.toBeInstanceOf(TypeError);
    await expect(c.send(nested(MAX_PAYLOAD_DEPTH))).resolves.toEqual(nested(MAX_PAYLOAD_DEPTH));
  });
});
