import { afterEach, describe, expect, it } from 'vitest';
import { RawClient, closeAll, nextSession, startServer, urlOf, type AnyFrame } from '@lifeline/test-kit';
import { memoryEngine } from '../src/index.js';

afterEach(closeAll);

async function hello(url: string, resume?: { sid: string; token: string; seq: number }): Promise<{ client: RawClient; welcome: AnyFrame }> {
  const c = await RawClient.open(url);
  c.send({ t: 'hello', v: 1, win: 64, ...(resume === undefined ? {} : { resume }) });
  return { client: c, welcome: await c.next((fr) => fr.t === 'welcome' || fr.t === 'bye', 5_000) };
}

// One memoryEngine() given to two servers of one process: they share sessions as Redis nodes do.
describe('two servers on one memoryEngine', () => {
  it('a session opened on A resumes on B with its accepted mark, stored outcomes and unacked pushes', async () => {
    const engine = memoryEngine();
    const handled: string[] = [];
    const handler = (d: unknown, ctx: { id: string }) => (handled.push(ctx.id), d);
    const a = await startServer({ engine, handler });
    const b = await startServer({ engine, handler });
    const opened = nextSession(a);
    const { client: one, welcome } = await hello(urlOf(a));
    const session = await opened;
    void session.send('p1');
    expect(await one.next((fr) => fr.t === 'msg')).toMatchObject({ seq: 1, d: 'p1' });
    one.send({ t: 'msg', seq: 1, id: 'm1', ts: 1, d: 'x' });
    expect((await one.acks(1))[0]).toMatchObject({ seq: 1, r: 'x' });
    const { client: two, welcome: again } = await hello(urlOf(b), { sid: welcome.sid, token: welcome.token, seq: 0 });
    expect(again).toMatchObject({ resumed: true, seq: 1 });
    expect(await two.next((fr) => fr.t === 'msg')).toMatchObject({ seq: 1, d: 'p1' });
    expect(await one.closedWith()).toBe(4409);
    two.send({ t: 'msg', seq: 1, id: 'm1', ts: 1, d: 'x' });
    expect((await two.acks(1))[0]).toMatchObject({ seq: 1, r: 'x' });
    expect(handled).toEqual(['m1']);
    await engine.close();
  });
});
