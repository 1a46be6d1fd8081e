import { useEffect, useState } from 'react';
import { useChannel, useClient } from '@lifeline/react';
import { typingChannel, type TypingNotice } from '../shared/protocol.js';

/** A notice shows this long after it was published (server clock). */
const SHOW_MS = 4_000;

/**
 * Who is typing: notices are publications on `typing:<room>`, subscribed from now (no history),
 * and shown for a few seconds; one replayed after a reconnect is already stale and never shows.
 */
export function TypingLine({ room, user }: { room: string; user: string }) {
  const client = useClient();
  const { publications } = useChannel(typingChannel(room), { keep: 20 });
  const [now, setNow] = useState(() => Date.now());
  // The server's clock, as the heartbeats estimate it (publishedAt is the server's time).
  const offset = Number.isFinite(client.clockOffsetMs) ? client.clockOffsetMs : 0;
  const fresh = publications.filter((p) => (p.data as unknown as TypingNotice).user !== user && now + offset - p.meta.publishedAt < SHOW_MS);
  const names = [...new Set(fresh.map((p) => (p.data as unknown as TypingNotice).user))];

  // Tick only while a notice shows (and once more to hide it); a new publication restarts it.
  const active = fresh.length > 0;
  useEffect(() => {
    setNow(Date.now());
  }, [publications]);
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(timer);
  }, [active]);

  return (
    <p className="typing" data-testid="typing">
      {names.length === 0 ? ' ' : `${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} typing…`}
    </p>
  );
}
