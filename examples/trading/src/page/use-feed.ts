// A channel whose state is rebuilt from a snapshot plus the publications after it: the order book
// and the ticker. On subscribe, and again on every `gap`, the page asks the exchange for a
// snapshot (`send({ op: 'snapshot', channel })`: the state with the channel offset it reflects)
// and replays what came after that offset.
//
// Why there is no hole and no double: publications that arrive while the snapshot is on its way
// are buffered, not applied. When it comes, those at or below its offset are dropped (already in
// the snapshot: no double), and from there a publication is applied only if its offset is exactly
// the last applied one plus one (no hole). Anything else — an offset further on, another epoch
// (the channel's history was lost), a buffer that overflowed — starts a new recovery instead of
// applying across the hole. The subscription itself guarantees the rest (guarantee 9): after
// a gap it goes on without a hole from the oldest publication the history still holds, which is
// at or before the snapshot's offset, since the snapshot is asked for after the gap.
import { useEffect, useState } from 'react';
import { useClient } from '@lifeline/react';
import type { GapInfo, Json, PublicationMeta } from '@lifeline/sdk';
import type { SnapshotResult } from '../shared/market.js';
import { QUERY_TIMEOUT_MS } from './setup.js';

/** Publications held while a snapshot is on its way; past it the buffer is dropped and recovery starts over. */
const MAX_BUFFERED = 2_000;
const MAX_ATTEMPTS = 100;
const RETRY_MS = [250, 500, 1_000, 2_000, 4_000];

export interface FeedState<S> {
  /** `loading` until the first snapshot; `recovering` after a gap until the next one is applied. */
  readonly status: 'loading' | 'live' | 'recovering' | 'failed';
  readonly value: S | undefined;
  /** The channel offset `value` reflects. */
  readonly offset: number;
  readonly epoch: string;
  /** Gaps the subscription reported. */
  readonly gaps: number;
  /** Snapshots applied (the first one included). */
  readonly snapshots: number;
  readonly lastGap: GapInfo | undefined;
}

export function useFeed<S, D>(channel: string, reduce: (state: S, delta: D) => S): FeedState<S> {
  const client = useClient();
  const [state, setState] = useState<FeedState<S>>({ status: 'loading', value: undefined, offset: 0, epoch: '', gaps: 0, snapshots: 0, lastGap: undefined });

  useEffect(() => {
    let mounted = true;
    let base: { value: S; offset: number; epoch: string } | undefined;
    let buffer: Array<[D, PublicationMeta]> = [];
    let generation = 0;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let snapshotsApplied = 0;
    const render = (change: Partial<FeedState<S>>): void => {
      if (mounted) setState((s) => ({ ...s, ...change }));
    };
    const sub = client.subscribe(channel);
    const readyOnce = sub.ready({ timeoutMs: QUERY_TIMEOUT_MS }).catch(() => {});

    const recover = async (): Promise<void> => {
      const mine = ++generation;
      base = undefined;
      render({ status: snapshotsApplied === 0 ? 'loading' : 'recovering' });
      // The first snapshot waits for the subscription, so its offset is at or after the subscribe point.
      await readyOnce;
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        if (!mounted || mine !== generation) return;
        let snapshot: SnapshotResult<S> | undefined;
        try {
          snapshot = await client.send<SnapshotResult<S>>({ op: 'snapshot', channel }, { timeoutMs: QUERY_TIMEOUT_MS });
        } catch {
          await new Promise((resolve) => (retry = setTimeout(resolve, RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)])));
          continue;
        }
        if (!mounted || mine !== generation) return;
        base = { value: snapshot.state, offset: snapshot.offset, epoch: snapshot.epoch };
        const held = buffer.sort((a, b) => a[1].offset - b[1].offset);
        buffer = [];
        render({ snapshots: (snapshotsApplied += 1), status: 'live' });
        for (const [data, meta] of held) apply(data, meta);
        // A hole in what was held started another recovery (base is undefined again): keep the old value shown.
        if (base !== undefined) render({ value: base.value, offset: base.offset, epoch: base.epoch });
        return;
      }
      render({ status: 'failed' });
    };

    const apply = (data: D, meta: PublicationMeta): void => {
      if (base === undefined) {
        if (buffer.length < MAX_BUFFERED) buffer.push([data, meta]);
        else buffer = []; // the snapshot will be older than what follows: the hole check recovers again
        return;
      }
      if (meta.epoch !== base.epoch || meta.offset > base.offset + 1) {
        void recover();
        buffer.push([data, meta]);
        return;
      }
      if (meta.offset <= base.offset) return; // in the snapshot already
      base = { value: reduce(base.value, data), offset: meta.offset, epoch: base.epoch };
    };
    const onPublication = (data: Json, meta: PublicationMeta): void => {
      const waiting = base === undefined;
      apply(data as unknown as D, meta);
      if (!waiting && base !== undefined) render({ value: base.value, offset: base.offset, epoch: base.epoch });
    };
    const onGap = (info: GapInfo): void => {
      render({ lastGap: info });
      if (mounted) setState((s) => ({ ...s, gaps: s.gaps + 1 }));
      void recover();
    };
    sub.on('publication', onPublication);
    sub.on('gap', onGap);
    void recover();
    return () => {
      mounted = false;
      clearTimeout(retry);
      sub.off('publication', onPublication);
      sub.off('gap', onGap);
      sub.unsubscribe().catch(() => {});
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- `reduce` is a module-level function
  }, [client, channel]);
  return state;
}
