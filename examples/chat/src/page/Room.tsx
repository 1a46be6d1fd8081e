import { useEffect, useMemo, useState } from 'react';
import { useChannel, useClient } from '@lifeline/react';
import { roomChannel, type ChatLine, type JoinResult, type MemberIdentity } from '../shared/protocol.js';
import { Composer } from './Composer.js';
import { Lines } from './Lines.js';
import type { PendingStore } from './pending.js';
import { Presence } from './Presence.js';
import { TypingLine } from './TypingLine.js';

/** A join waits for the connection like any send: a room opened offline loads once it is back. */
const JOIN_TIMEOUT_MS = 10 * 60_000;

/** Asks the server where the room's history starts, then shows the room from there. */
interface RoomProps {
  readonly room: string;
  readonly user: string;
  readonly pending: PendingStore;
  /** The number of distinct users present, whenever it changes. */
  readonly onMembers: (count: number) => void;
}

export function Room({ room, user, pending, onMembers }: RoomProps) {
  const client = useClient();
  const [join, setJoin] = useState<JoinResult | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  useEffect(() => {
    const abort = new AbortController();
    client.send<JoinResult>({ op: 'join', room }, { timeoutMs: JOIN_TIMEOUT_MS, signal: abort.signal }).then(
      (answer) => setJoin(answer),
      (e: unknown) => abort.signal.aborted || setError(e instanceof Error ? e.message : String(e)),
    );
    return () => abort.abort();
  }, [client, room]);

  if (join === undefined) {
    return (
      <section className="room" data-testid="room" data-room={room}>
        <h2># {room}</h2>
        <p className={error === undefined ? 'hint' : 'error'}>{error ?? 'joining…'}</p>
      </section>
    );
  }
  return <RoomView join={join} user={user} pending={pending} onMembers={onMembers} />;
}

function RoomView({ join, user, pending, onMembers }: Omit<RoomProps, 'room'> & { readonly join: JoinResult }) {
  const { room } = join;
  // History on join: the subscription starts `historyOnJoin` lines back, then goes live (guarantee 9).
  const since = useMemo(() => ({ offset: join.from, epoch: join.epoch }), [join]);
  const channel = useChannel(roomChannel(room), { since, keep: 500 });
  const members = new Set(channel.presence.map((m) => (m.identity as MemberIdentity | undefined)?.user)).size;
  useEffect(() => onMembers(members), [members, onMembers]);
  const lines = channel.publications.map((p) => ({ offset: p.meta.offset, epoch: p.meta.epoch, publishedAt: p.meta.publishedAt, ...(p.data as unknown as ChatLine) }));
  return (
    <section className="room" data-testid="room" data-room={room} data-ready={channel.ready}>
      <h2># {room}</h2>
      <div className="room-body">
        <div className="conversation">
          {channel.gap !== undefined && (
            <p className="notice" data-testid="gap">
              {channel.gap.to >= channel.gap.from
                ? `Lines ${channel.gap.from}–${channel.gap.to} are no longer in the room's history (${channel.gap.reason}).`
                : "The room's history was lost (the server restarted): lines above may be missing others."}
            </p>
          )}
          {channel.error !== undefined && <p className="error">{channel.error.message}</p>}
          <Lines room={room} user={user} lines={lines} pending={pending} />
          <TypingLine room={room} user={user} />
          <Composer room={room} pending={pending} />
        </div>
        <Presence members={channel.presence} user={user} />
      </div>
    </section>
  );
}
