import { useConnectionState } from '@lifeline/react';

export function ConnectionBar({ user }: { user: string }) {
  const { state, reconnects, lastDowntimeMs, attempt } = useConnectionState();
  const detail =
    state === 'reconnecting'
      ? `reconnecting (attempt ${attempt})… orders are kept and sent once`
      : reconnects > 0 && lastDowntimeMs !== undefined
        ? `back ${reconnects}× · last outage ${Math.round(lastDowntimeMs)} ms`
        : '';
  return (
    <header>
      <h1>Lifeline exchange</h1>
      <span className="user">signed in as {user}</span>
      <span className={`state ${state}`} data-connection={state}>
        {state}
      </span>
      <span className="detail">{detail}</span>
    </header>
  );
}
