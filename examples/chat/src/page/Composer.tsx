import { useRef, useState, type FormEvent } from 'react';
import { useClient, useConnectionState } from '@lifeline/react';
import { RemoteError } from '@lifeline/sdk';
import { newClientMsgId, type PendingStore } from './pending.js';

/** A line waits this long for the server, offline included; the durable outbox keeps it across reloads. */
const SAY_TIMEOUT_MS = 10 * 60_000;
/** At most one typing notice this often, and only while online (a stale one is worth nothing). */
const TYPING_EVERY_MS = 2_000;
const TYPING_TIMEOUT_MS = 5_000;
/** The server's default limit; the server's own check is the one that counts. */
const MAX_TEXT_LENGTH = 500;

function reason(error: unknown): string {
  if (error instanceof RemoteError) return error.message;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * Sends each line with `client.send()` under its own id: the SDK queues it while offline, sends it
 * once the link is back, and the server's handler publishes it once (guarantees 1, 3 and 8).
 */
export function Composer({ room, pending }: { room: string; pending: PendingStore }) {
  const client = useClient();
  const { state } = useConnectionState();
  const [text, setText] = useState('');
  const lastTyping = useRef(0);

  const submit = (event: FormEvent): void => {
    event.preventDefault();
    const line = text.trim();
    if (line === '') return;
    const clientMsgId = newClientMsgId();
    pending.add({ clientMsgId, room, text: line, status: 'pending' });
    setText('');
    lastTyping.current = 0;
    client.send<{ offset: number }>({ op: 'say', room, text: line, clientMsgId }, { id: clientMsgId, timeoutMs: SAY_TIMEOUT_MS }).then(
      ({ offset }) => pending.update(clientMsgId, { status: 'sent', offset }),
      (error: unknown) => pending.update(clientMsgId, { status: 'failed', error: reason(error) }),
    );
  };

  const change = (value: string): void => {
    setText(value);
    const now = performance.now();
    if (value.trim() !== '' && state === 'open' && now - lastTyping.current >= TYPING_EVERY_MS) {
      lastTyping.current = now;
      client.send({ op: 'typing', room }, { timeoutMs: TYPING_TIMEOUT_MS }).catch(() => {}); // best effort
    }
  };

  return (
    <form className="composer" onSubmit={submit}>
      <input
        data-testid="composer"
        value={text}
        maxLength={MAX_TEXT_LENGTH}
        onChange={(e) => change(e.target.value)}
        placeholder={state === 'open' ? `Message #${room}` : `Message #${room} (offline: sent when the link is back)`}
        aria-label="message"
      />
      <button type="submit" disabled={text.trim() === ''}>
        Send
      </button>
    </form>
  );
}
