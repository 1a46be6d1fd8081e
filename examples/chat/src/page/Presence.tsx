import type { PresenceMember } from '@lifeline/react';
import type { MemberIdentity } from '../shared/protocol.js';

/** Who is in the room: presence members (one per client) by user name, from `authenticate`'s identity. */
export function Presence({ members, user }: { members: readonly PresenceMember[]; user: string }) {
  const users = [...new Set(members.map((m) => (m.identity as MemberIdentity | undefined)?.user).filter((u): u is string => u !== undefined))].sort();
  return (
    <aside className="presence" data-testid="presence">
      <h3>Here now ({users.length})</h3>
      <ul>
        {users.map((u) => (
          <li key={u} data-user={u}>
            <span className="dot" />
            {u}
            {u === user && <span className="you"> (you)</span>}
          </li>
        ))}
      </ul>
    </aside>
  );
}
