import { afterEach, describe, expect, it } from 'vitest';
import { client, closeAll, startServer } from '@lifeline/test-kit';

afterEach(closeAll);

// The classic hang: a naive client sends a burst and waits on recv() for echoes that a racy
// implementation sometimes never delivers. Every wait here has a deadline, so a hang fails.
describe('the classic hang', () => {
  it('20 back-to-back messages, 20 echoes, over 30 fresh connections', async () => {
    const server = await startServer({
      handler: (data, ctx) => {
        ctx.session.send(data).catch(() => {}); // a push still pending at shutdown rejects; not this test's subject
        return null;
      },
    });
    for (let round = 0; round < 30; round++) {
      const c = client(`ws://127.0.0.1:${server.port}`);
      await c.connect({ timeoutMs: 5_000 });
      const acks = Array.from({ length: 20 }, (_, i) => c.send({ round, i }, { timeoutMs: 5_000 }));
      const echoes: unknown[] = [];
      for (let i = 0; i < 20; i++) echoes.push(await c.receive({ timeoutMs: 5_000 }));
      await Promise.all(acks);
      expect(echoes).toEqual(Array.from({ length: 20 }, (_, i) => ({ round, i })));
      await c.close({ drain: true, timeoutMs: 5_000 });
    }
  });
});
