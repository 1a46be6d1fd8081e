import { useEffect, useLayoutEffect, useMemo, useRef, useSyncExternalStore } from 'react';
import type { ChatLine } from '../shared/protocol.js';
import type { PendingStore } from './pending.js';

export interface ShownLine extends ChatLine {
  readonly offset: number;
  /** Offsets start again at 1 in a new epoch (a server restart lost the history). */
  readonly epoch: string;
  readonly publishedAt: number;
}

const time = (ms: number): string => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

/**
 * The room's lines in offset order (the order every member sees), then this page's lines not
 * published yet: pending (queued, maybe offline), or failed with the server's reason.
 */
export function Lines({ room, user, lines, pending }: { room: string; user: string; lines: readonly ShownLine[]; pending: PendingStore }) {
  const all = useSyncExternalStore(pending.subscribe, pending.snapshot);
  const published = useMemo(() => new Set(lines.filter((l) => l.user === user).map((l) => l.clientMsgId)), [lines, user]);
  const waiting = all.filter((l) => l.room === room && !published.has(l.clientMsgId));

  // A line the room brought back is no longer pending: forget it.
  useEffect(() => {
    const seen = all.filter((l) => l.room === room && published.has(l.clientMsgId));
    if (seen.length > 0) pending.remove(new Set(seen.map((l) => l.clientMsgId)));
  }, [all, published, pending, room]);

  const list = useRef<HTMLOListElement>(null);
  useLayoutEffect(() => {
    const el = list.current;
    if (el !== null) el.scrollTop = el.scrollHeight;
  }, [lines.length, waiting.length]);

  return (
    <ol className="lines" ref={list} data-testid="lines">
      {lines.length === 0 && waiting.length === 0 && <li className="hint">No lines yet. Say hello.</li>}
      {lines.map((l) => (
        <li key={`${l.epoch}:${l.offset}`} data-testid="line" data-status="sent" data-offset={l.offset} data-user={l.user} className={l.user === user ? 'mine' : ''}>
          <span className="who">{l.user}</span>
          <span className="text">{l.text}</span>
          <time>{time(l.publishedAt)}</time>
        </li>
      ))}
      {waiting.map((l) => (
        <li key={l.clientMsgId} data-testid="line" data-status={l.status === 'failed' ? 'failed' : 'pending'} data-user={user} className={`mine ${l.status}`}>
          <span className="who">{user}</span>
          <span className="text">{l.text}</span>
          <span className="state">{l.status === 'failed' ? `not sent: ${l.error ?? 'failed'}` : 'pending'}</span>
          {l.status === 'failed' && (
            <button className="link" onClick={() => pending.remove(new Set([l.clientMsgId]))} aria-label="dismiss">
              ×
            </button>
          )}
        </li>
      ))}
    </ol>
  );
}
