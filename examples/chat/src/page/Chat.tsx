import { useEffect, useState } from 'react';
import { useClient } from '@lifeline/react';
import { ROOM_NAME } from '../shared/protocol.js';
import { ConnectionBadge } from './ConnectionBadge.js';
import type { PendingStore } from './pending.js';
import { Room } from './Room.js';
import { RoomList } from './RoomList.js';

const DEFAULT_ROOM = 'general';

/** The room in the URL's hash (`#random`), so a reload stays in it. */
function roomFromHash(): string {
  const name = decodeURIComponent(location.hash.slice(1));
  return ROOM_NAME.test(name) ? name : DEFAULT_ROOM;
}

export function Chat({ user, pending, onSignOut }: { user: string; pending: PendingStore; onSignOut: () => void }) {
  const [room, setRoom] = useState(roomFromHash);
  // The open room's member count comes from its live presence, not from the last room-list poll.
  const [here, setHere] = useState<number | undefined>(undefined);
  const client = useClient();
  // Lines an earlier run of the page left in the outbox have no send() caller: their outcome comes here.
  useEffect(() => {
    const settled = (outcome: { id: string; result?: unknown; error?: Error & { code?: string } }): void => {
      if (outcome.error === undefined) pending.update(outcome.id, { status: 'sent' });
      else if (outcome.error.code !== 'ERR_CLOSED') pending.update(outcome.id, { status: 'failed', error: outcome.error.message });
    };
    client.on('restored-settled', settled);
    return () => {
      client.off('restored-settled', settled);
    };
  }, [client, pending]);
  useEffect(() => {
    const onHash = (): void => setRoom(roomFromHash());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  const open = (name: string): void => {
    location.hash = encodeURIComponent(name);
    setRoom(name);
  };
  return (
    <div className="chat">
      <header>
        <h1>Lifeline chat</h1>
        <ConnectionBadge />
        <span className="me" data-testid="me">
          {user}
        </span>
        <button className="link" onClick={onSignOut}>
          sign out
        </button>
      </header>
      <RoomList current={room} currentMembers={here} onOpen={open} />
      <Room key={room} room={room} user={user} pending={pending} onMembers={setHere} />
    </div>
  );
}
