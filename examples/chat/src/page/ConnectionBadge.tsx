import { useConnectionState } from '@lifeline/react';

const LABELS = { idle: 'not connected', connecting: 'connecting…', open: 'online', reconnecting: 'offline, reconnecting…', closed: 'closed' } as const;

/** The connection as the SDK sees it: lines typed while it is not `open` wait in the outbox. */
export function ConnectionBadge() {
  const { state, reconnects, lastDowntimeMs, attempt } = useConnectionState();
  const detail = [
    attempt > 0 ? `attempt ${attempt}` : undefined,
    reconnects > 0 ? `${reconnects} reconnect${reconnects === 1 ? '' : 's'}` : undefined,
    lastDowntimeMs !== undefined ? `last outage ${(lastDowntimeMs / 1000).toFixed(1)} s` : undefined,
  ].filter(Boolean);
  return (
    <span className={`connection ${state}`} data-testid="connection" data-state={state} data-reconnects={reconnects}>
      <span className="dot" />
      {LABELS[state]}
      {detail.length > 0 && <span className="detail"> · {detail.join(' · ')}</span>}
    </span>
  );
}
