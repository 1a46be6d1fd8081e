import { useEffect, useState, type FormEvent } from 'react';
import { useClient, useConnectionState } from '@lifeline/react';
import { ROOM_NAME, type RoomSummary } from '../shared/protocol.js';

const REFRESH_MS = 5_000;
const REQUEST_TIMEOUT_MS = 5_000;

/** The rooms with their member counts (asked again every few seconds while online), and a field to open one. */
export function RoomList({ current, currentMembers, onOpen }: { current: string; currentMembers: number | undefined; onOpen: (room: string) => void }) {
  const client = useClient();
  const { state } = useConnectionState();
  const [rooms, setRooms] = useState<readonly RoomSummary[]>([]);
  const [draft, setDraft] = useState('');

  useEffect(() => {
    if (state !== 'open') return;
    let live = true;
    const refresh = (): void => {
      client
        .send<{ rooms: RoomSummary[] }>({ op: 'rooms' }, { timeoutMs: REQUEST_TIMEOUT_MS })
        .then((answer) => live && setRooms(answer.rooms))
        .catch(() => {}); // the next refresh asks again
    };
    refresh();
    const timer = setInterval(refresh, REFRESH_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [client, state, current]);

  const listed = rooms.some((r) => r.name === current) ? rooms : [...rooms, { name: current, members: 0 }];
  const names = listed.map((r) => (r.name === current && currentMembers !== undefined ? { ...r, members: currentMembers } : r));
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    if (!ROOM_NAME.test(draft)) return;
    onOpen(draft);
    setDraft('');
  };
  return (
    <nav className="rooms" data-testid="rooms">
      <h2>Rooms</h2>
      <ul>
        {names.map((r) => (
          <li key={r.name}>
            <button className={r.name === current ? 'current' : ''} onClick={() => onOpen(r.name)} data-room={r.name}>
              # {r.name}
              {r.members > 0 && <span className="count">{r.members}</span>}
            </button>
          </li>
        ))}
      </ul>
      <form onSubmit={submit}>
        <input value={draft} onChange={(e) => setDraft(e.target.value.toLowerCase())} placeholder="new-room" maxLength={32} aria-label="open a room" />
        <button type="submit" disabled={!ROOM_NAME.test(draft)}>
          open
        </button>
      </form>
    </nav>
  );
}
