import { StrictMode } from 'react';
import { act, render, screen, waitFor } from '@testing-library/react';
import { EventEmitter } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import type { Json, LifelineClient } from '@lifeline/sdk';
import { gate } from '@lifeline/test-kit';
import {
  LifelineProvider,
  useChannel,
  type ChannelPosition,
  type ChannelSubscription,
  type PresenceMember,
  type PublicationMeta,
  type SubscribeOptions,
} from '../src/index.js';
import './setup.js';

/*
 * `client.subscribe()` is not in @lifeline/session on this branch yet: these tests drive
 * useChannel with a fake subscription that follows docs/DESIGN.md "Channels".
 */

class FakeSubscription extends EventEmitter implements ChannelSubscription {
  readonly readyGate = gate<void>();
  members: PresenceMember[] = [];
  unsubscribed = 0;
  position: ChannelPosition | undefined;
  constructor(
    readonly channel: string,
    readonly options: SubscribeOptions,
    private readonly refusal?: Error,
  ) {
    super();
  }
  ready(): Promise<void> {
    return this.refusal === undefined ? this.readyGate.promise : Promise.reject(this.refusal);
  }
  presence(): Promise<readonly PresenceMember[]> {
    return Promise.resolve(this.members);
  }
  unsubscribe(): Promise<void> {
    this.unsubscribed++;
    this.removeAllListeners();
    return Promise.resolve();
  }
  publish(offset: number, data: Json): void {
    const meta: PublicationMeta = { channel: this.channel, offset, epoch: 'e1', publishedAt: Date.now(), id: `p${offset}` };
    this.emit('publication', data, meta);
  }
}

/** A stand-in client: the tracker listens for its events, useChannel calls its subscribe(). */
function fakeClient(refusal?: Error) {
  const subs: FakeSubscription[] = [];
  const emitter = new EventEmitter();
  const client = Object.assign(emitter, {
    state: 'open',
    subscribe: vi.fn((channel: string, options: SubscribeOptions = {}) => {
      const sub = new FakeSubscription(channel, options, refusal);
      subs.push(sub);
      return sub;
    }),
  });
  return { client: client as unknown as LifelineClient, subs, subscribe: client.subscribe };
}

function Room({ name, since, keep }: { name: string; since?: ChannelPosition; keep?: number }) {
  const { publications, presence, gap, ready, error } = useChannel(name, { since, keep });
  return (
    <div
      data-testid="room"
      data-ready={String(ready)}
      data-error={error?.message ?? ''}
      data-gap={gap === undefined ? '' : `${gap.from}-${gap.to}:${gap.reason}`}
      data-presence={presence.map((m) => m.clientId).join(',')}
      data-lines={publications.map((p) => `${p.meta.offset}:${String(p.data)}`).join(',')}
    />
  );
}

const room = () => screen.getByTestId('room').dataset;
const live = (subs: FakeSubscription[]) => subs.filter((s) => s.unsubscribed === 0);

describe('useChannel (against a fake subscription)', () => {
  it('collects publications in order, a gap, and presence from the list and join/leave', async () => {
    const { client, subs } = fakeClient();
    render(
      <LifelineProvider client={client}>
        <Room name="room:42" since={{ offset: 7, epoch: 'e1' }} />
      </LifelineProvider>,
    );
    const [sub] = subs as [FakeSubscription];
    expect(sub.channel).toBe('room:42');
    expect(sub.options).toEqual({ since: { offset: 7, epoch: 'e1' } });
    expect(room().ready).toBe('false');
    sub.members = [{ clientId: 'a', sessionId: 's-a' }];
    await act(async () => sub.readyGate.open());
    await waitFor(() => expect(room().presence).toBe('a'));
    expect(room().ready).toBe('true');
    act(() => {
      sub.publish(8, 'hello');
      sub.emit('gap', { channel: 'room:42', from: 9, to: 11, reason: 'evicted' });
      sub.publish(12, 'again');
      sub.emit('join', { clientId: 'b', sessionId: 's-b' });
      sub.emit('leave', { clientId: 'a', sessionId: 's-a' });
    });
    expect(room().lines).toBe('8:hello,12:again');
    expect(room().gap).toBe('9-11:evicted');
    expect(room().presence).toBe('b');
  });

  it('a leave heard while presence() is in flight is not undone by its older list', async () => {
    const { client, subs } = fakeClient();
    render(
      <LifelineProvider client={client}>
        <Room name="room:7" />
      </LifelineProvider>,
    );
    const sub = subs[0] as FakeSubscription;
    const list = gate<readonly PresenceMember[]>();
    vi.spyOn(sub, 'presence').mockReturnValue(list.promise);
    await act(async () => sub.readyGate.open());
    expect(room().ready).toBe('true');
    act(() => {
      sub.emit('leave', { clientId: 'a', sessionId: 's-a' });
      sub.emit('join', { clientId: 'c', sessionId: 's-c' });
    });
    await act(async () => list.open([{ clientId: 'a', sessionId: 's-a' }, { clientId: 'b', sessionId: 's-b' }]));
    await waitFor(() => expect(room().presence).toBe('b,c'));
  });

  it('keeps only the latest `keep` publications', () => {
    const { client, subs } = fakeClient();
    render(
      <LifelineProvider client={client}>
        <Room name="ticker" keep={3} />
      </LifelineProvider>,
    );
    const [sub] = subs as [FakeSubscription];
    act(() => {
      for (let offset = 1; offset <= 1_000; offset++) sub.publish(offset, offset);
    });
    expect(room().lines).toBe('998:998,999:999,1000:1000');
  });

  it('under StrictMode subscribes once for good: the first run is unsubscribed', () => {
    const { client, subs, subscribe } = fakeClient();
    const { unmount } = render(
      <StrictMode>
        <LifelineProvider client={client}>
          <Room name="room:1" />
        </LifelineProvider>
      </StrictMode>,
    );
    expect(subscribe.mock.calls.length).toBeLessThanOrEqual(2);
    expect(live(subs)).toHaveLength(1);
    expect(subs.every((s) => s.unsubscribed <= 1)).toBe(true);
    // Only the live subscription's publications reach the page.
    act(() => (live(subs)[0] as FakeSubscription).publish(1, 'x'));
    expect(room().lines).toBe('1:x');
    unmount();
    expect(live(subs)).toHaveLength(0);
  });

  it('moves to a new subscription when the name changes, unsubscribing the old one', () => {
    const { client, subs } = fakeClient();
    const { rerender } = render(
      <LifelineProvider client={client}>
        <Room name="room:1" />
      </LifelineProvider>,
    );
    act(() => (subs[0] as FakeSubscription).publish(1, 'one'));
    rerender(
      <LifelineProvider client={client}>
        <Room name="room:2" />
      </LifelineProvider>,
    );
    expect(subs.map((s) => [s.channel, s.unsubscribed])).toEqual([
      ['room:1', 1],
      ['room:2', 0],
    ]);
    expect(room().lines).toBe(''); // nothing of room:1 carried over
  });

  it('surfaces a refused ready() as error', async () => {
    const { client } = fakeClient(new Error('not authorized'));
    render(
      <LifelineProvider client={client}>
        <Room name="secret" />
      </LifelineProvider>,
    );
    await waitFor(() => expect(room().error).toBe('not authorized'));
    expect(room().ready).toBe('false');
  });

  it('says so when the client has no subscribe()', () => {
    const client = Object.assign(new EventEmitter(), { state: 'open' }) as unknown as LifelineClient;
    render(
      <LifelineProvider client={client}>
        <Room name="room:1" />
      </LifelineProvider>,
    );
    expect(room().error).toMatch(/no subscribe\(\)/);
  });
});
