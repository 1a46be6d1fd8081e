import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionError } from '@lifeline/protocol';
import { closeAll, onCleanup, startWsServer, until } from '@lifeline/test-kit';
import { Transport, type StateChange, type TransportOptions } from '../src/index.js';
import { canTransition, type ConnectionState } from '../src/internal.js';
import { StateMachine } from '../src/state.js';

afterEach(closeAll);

const states: readonly ConnectionState[] = ['idle', 'connecting', 'open', 'reconnecting', 'closed'];

function transport(options: TransportOptions): Transport {
  const t = new Transport(options);
  onCleanup(() => t.close());
  return t;
}

describe('the connection state machine', () => {
  it('allows exactly the transitions of its table, and closed is terminal', () => {
    const allowed = states.flatMap((from) => states.filter((to) => canTransition(from, to)).map((to) => `${from}→${to}`));
    expect(allowed).toEqual([
      'idle→connecting',
      'idle→closed',
      'connecting→idle',
      'connecting→open',
      'connecting→closed',
      'open→idle',
      'open→reconnecting',
      'open→closed',
      'reconnecting→idle',
      'reconnecting→open',
      'reconnecting→closed',
    ]);
  });

  it('changes only through set(), reports each change once with its reason, and refuses the rest', () => {
    const seen: Array<[ConnectionState, StateChange]> = [];
    const m = new StateMachine((next, change) => seen.push([next, change]));
    expect(m.set('open', 'not from idle')).toBe(false);
    expect(m.set('connecting', 'connect()')).toBe(true);
    expect(m.set('connecting', 'again')).toBe(false);
    const error = new ConnectionError(1006, 'refused');
    expect(m.set('idle', 'connect failed: refused', error)).toBe(true);
    expect(m.set('closed', 'client closed')).toBe(true);
    expect(m.set('connecting', 'after the end')).toBe(false);
    expect(m.value).toBe('closed');
    expect(seen).toEqual([
      ['connecting', { from: 'idle', reason: 'connect()' }],
      ['idle', { from: 'connecting', reason: 'connect failed: refused', error }],
      ['closed', { from: 'idle', reason: 'client closed' }],
    ]);
  });
});

describe('Transport hooks around the state', () => {
  it('runs prepare() in connecting before the first attempt, and a failing one fails connect() back to idle with its error', async () => {
    const s = await startWsServer();
    let prepared = 0;
    let fail = true;
    const changes: Array<[ConnectionState, StateChange]> = [];
    const t = transport({
      url: s.url,
      prepare: async () => {
        prepared++;
        expect(t.state).toBe('connecting');
        if (fail) throw new ConnectionError(4999, 'store down');
      },
    });
    t.on('state', (state, change) => changes.push([state, change]));
    await expect(t.connect()).rejects.toThrow(/store down/);
    expect(t.state).toBe('idle');
    expect(s.sockets.length).toBe(0);
    expect(changes[1]?.[1].error).toBeInstanceOf(ConnectionError);
    fail = false;
    await t.connect();
    expect(prepared).toBe(2);
    expect(s.sockets.length).toBe(1);
  });

  it('calls established() once per connection before the state turns open, with the reason it returns; reconnects skip prepare()', async () => {
    const s = await startWsServer();
    const calls: string[] = [];
    const t = transport({
      url: s.url,
      reconnect: { minDelayMs: 5, maxDelayMs: 10, minUptimeMs: 0 },
      prepare: async () => void calls.push('prepare'),
      established: () => {
        calls.push(`established in ${t.state}`);
        return calls.length > 2 ? 'resumed' : 'welcome';
      },
    });
    const reasons: string[] = [];
    t.on('state', (state, { reason }) => reasons.push(`${state}: ${reason}`));
    await t.connect();
    s.sockets[0]?.close(1011, 'bounce');
    await until(t, 'state', () => t.state === 'open' && s.sockets.length === 2);
    expect(calls).toEqual(['prepare', 'established in connecting', 'established in reconnecting']);
    expect(reasons).toEqual(['connecting: connect()', 'open: welcome', 'reconnecting: closed 1011: bounce', 'open: resumed']);
  });
});
