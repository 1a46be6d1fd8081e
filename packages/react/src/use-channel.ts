import { useEffect, useState } from 'react';
import type { ChannelClient, ChannelPosition, GapInfo, PresenceMember, Publication } from './channel-types.js';
import { useClient } from './hooks.js';

export interface UseChannelOptions {
  /** Resume from a saved position (`sub.position`); without it, from the subscribe point. */
  readonly since?: ChannelPosition;
  /**
   * Publications kept in the returned list (the oldest are dropped first): a busy channel must
   * not grow a component's state without bound. @default 1_000
   */
  readonly keep?: number;
  /** Bound on `ready()`. @default 10_000 */
  readonly readyTimeoutMs?: number;
}

export interface ChannelState {
  /** In offset order, the latest `keep` of them. */
  readonly publications: readonly Publication[];
  readonly presence: readonly PresenceMember[];
  /** The last gap reported (history no longer held what was missed); `undefined` if none. */
  readonly gap: GapInfo | undefined;
  /** Authorized and caught up to live. */
  readonly ready: boolean;
  /** `ready()` or `presence()` failed (e.g. `UnauthorizedError`), or the client cannot subscribe. */
  readonly error: Error | undefined;
}

const initial: ChannelState = { publications: [], presence: [], gap: undefined, ready: false, error: undefined };

/**
 * Subscribe to `name` for as long as the component is mounted (or until `name` / `since` change):
 * one subscription per mount, unsubscribed in the effect's cleanup, so StrictMode's second run
 * leaves exactly one behind.
 */
export function useChannel(name: string, options: UseChannelOptions = {}): ChannelState {
  const client = useClient() as unknown as Partial<ChannelClient>;
  const keep = options.keep ?? 1_000;
  if (!Number.isInteger(keep) || keep < 1) throw new TypeError(`useChannel: keep must be a positive integer, got ${String(keep)}`);
  const readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
  const sinceOffset = options.since?.offset;
  const sinceEpoch = options.since?.epoch;
  const [state, setState] = useState<ChannelState>(initial);

  useEffect(() => {
    setState(initial);
    if (typeof client.subscribe !== 'function') {
      setState({ ...initial, error: new TypeError('this client has no subscribe(): channels need a newer @lifeline/sdk') });
      return;
    }
    let live = true;
    const update = (change: (s: ChannelState) => ChannelState): void => {
      if (live) setState(change);
    };
    const since = sinceOffset === undefined || sinceEpoch === undefined ? undefined : { offset: sinceOffset, epoch: sinceEpoch };
    let sub: ReturnType<ChannelClient['subscribe']>;
    try {
      sub = client.subscribe(name, since === undefined ? {} : { since });
    } catch (error) {
      // A closed client refuses (ClosedError). Under StrictMode that is the provider's first client,
      // closed by the first cleanup and replaced on the next render: not an error to show. Found
      // in Chromium: thrown from the effect, it unmounted the whole tree.
      if ((client as { state?: unknown }).state !== 'closed') setState({ ...initial, error: error instanceof Error ? error : new Error(String(error)) });
      return;
    }
    const onPublication = (data: Publication['data'], meta: Publication['meta']): void =>
      update((s) => {
        const publications = s.publications.length >= keep ? s.publications.slice(s.publications.length - keep + 1) : s.publications.slice();
        publications.push({ data, meta });
        return { ...s, publications };
      });
    const onGap = (gap: GapInfo): void => update((s) => ({ ...s, gap }));
    // Leaves heard while presence() is in flight, so its (older) list cannot bring them back.
    const left = new Set<string>();
    const onJoin = (member: PresenceMember): void => {
      left.delete(member.clientId);
      update((s) => ({ ...s, presence: [...s.presence.filter((m) => m.clientId !== member.clientId), member] }));
    };
    const onLeave = (member: PresenceMember): void => {
      left.add(member.clientId);
      update((s) => ({ ...s, presence: s.presence.filter((m) => m.clientId !== member.clientId) }));
    };
    sub.on('publication', onPublication);
    sub.on('gap', onGap);
    sub.on('join', onJoin);
    sub.on('leave', onLeave);
    const fail = (error: unknown): void => update((s) => ({ ...s, error: error instanceof Error ? error : new Error(String(error)) }));
    sub
      .ready({ timeoutMs: readyTimeoutMs })
      .then(async () => {
        update((s) => ({ ...s, ready: true }));
        const members = await sub.presence();
        // Joins and leaves heard while presence() was in flight win: the list is merged, not replaced.
        const known = members.filter((m) => !left.has(m.clientId));
        left.clear();
        update((s) => ({ ...s, presence: [...known.filter((m) => !s.presence.some((p) => p.clientId === m.clientId)), ...s.presence] }));
      })
      .catch(fail);
    return () => {
      live = false;
      sub.off('publication', onPublication);
      sub.off('gap', onGap);
      sub.off('join', onJoin);
      sub.off('leave', onLeave);
      sub.unsubscribe().catch(() => {});
    };
  }, [client, name, sinceOffset, sinceEpoch, keep, readyTimeoutMs]);
  return state;
}
