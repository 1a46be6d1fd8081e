import { afterEach, describe, expect, it } from 'vitest';
import { RawClient, closeAll, nextEvent, nextSession, startServer, urlOf } from '@lifeline/test-kit';
import type { StateEvent } from '@lifeline/protocol';
import type { LifelinePlugin, SessionState } from '../src/index.js';
import { StateMachine } from '@lifeline/protocol/internal';

afterEach(closeAll);

describe('a session has one state machine, changed with a reason', () => {
  it('reports every change with its reason to state listeners and to plugins, in order, and none after the end', async () => {
    const seen: StateEvent[] = [];
    const plugin: LifelinePlugin = { name: 'states', onState: (e) => seen.push(e) };
    const server = await startServer({ plugins: [plugin] });
    const sessionP = nextSession(server);
    const first = await RawClient.connect(urlOf(server));
    const session = await sessionP;
    const heard: Array<[SessionState, SessionState, string]> = [];
    session.on('state', (state, { from, reason }) => heard.push([from, state, reason]));

    const detached = nextEvent(session as never, 'detach');
    first.client.ws.terminate();
    await detached;
    const second = await RawClient.open(urlOf(server));
    await second.hello({ resume: { sid: first.welcome.sid, token: first.welcome.token, seq: 0 } });
    session.close('done');
    expect(await second.closedWith()).toBe(4410);

    expect(heard).toEqual([
      ['attached', 'detached', expect.stringMatching(/^connection closed 1006/)],
      ['detached', 'attached', 'resumed'],
      ['attached', 'closed', 'closed: done'],
    ]);
    expect(seen.map((e) => [e.from, e.to, e.reason])).toEqual([['detached', 'attached', 'new session'], ...heard]);
    expect(session.state).toBe('closed');
  });
});

describe('StateMachine', () => {
  type S = 'a' | 'b' | 'c';
  const table = { a: ['b'], b: ['a', 'c'], c: [] } as const satisfies Record<S, readonly S[]>;

  it('moves only along its table, keeps the reason of the last move, and tells each move once', () => {
    const moves: string[] = [];
    const m = new StateMachine<S>('a', 'start', table, (c) => moves.push(`${c.from}>${c.to}:${c.reason}`));
    expect(m.set('c', 'skip')).toBe(false);
    expect(m.set('a', 'again')).toBe(false);
    expect([m.value, m.reason]).toEqual(['a', 'start']);
    expect(m.can('b')).toBe(true);
    expect(m.set('b', 'go')).toBe(true);
    expect(m.set('c', 'end')).toBe(true);
    expect(m.set('a', 'revive')).toBe(false);
    expect([m.value, m.reason]).toEqual(['c', 'end']);
    expect(moves).toEqual(['a>b:go', 'b>c:end']);
  });
});
