import type { ClientState, LifelineClient } from '@lifeline/sdk';

/** What `useConnectionState()` returns: a new object on every change, the same one otherwise. */
export interface ConnectionState {
  readonly state: ClientState;
  /** Times the connection came back (`reconnecting` → `open`) since the provider got the client. */
  readonly reconnects: number;
  /** How long the last outage lasted, from the drop to `open` again; `undefined` before the first. */
  readonly lastDowntimeMs: number | undefined;
  /** The reconnect attempt under way (1-based, from the `reconnecting` event); 0 when not reconnecting. */
  readonly attempt: number;
  /** Messages the last resume retransmitted (the `resumed` event); 0 before the first resume. */
  readonly lastReplayed: number;
}

/**
 * One tracker per client, shared by every hook and provider that sees it: the counts start when
 * the first of them meets the client, and StrictMode's double effects cannot attach listeners
 * twice. The listeners stay on the client for its life (a closed client emits nothing more).
 */
export interface Tracker {
  snapshot(): ConnectionState;
  subscribe(onChange: () => void): () => void;
}

const trackers = new WeakMap<LifelineClient, Tracker>();

export function track(client: LifelineClient, now: () => number = () => performance.now()): Tracker {
  const existing = trackers.get(client);
  if (existing !== undefined) return existing;
  let current: ConnectionState = { state: client.state, reconnects: 0, lastDowntimeMs: undefined, attempt: 0, lastReplayed: 0 };
  let downSince: number | undefined = client.state === 'reconnecting' ? now() : undefined;
  const listeners = new Set<() => void>();
  const set = (next: Partial<ConnectionState>): void => {
    current = { ...current, ...next };
    for (const listener of [...listeners]) listener();
  };
  client.on('state', (state, change) => {
    if (state === 'reconnecting' && downSince === undefined) downSince = now();
    if (state === 'open' && change.from === 'reconnecting') {
      const lastDowntimeMs = downSince === undefined ? current.lastDowntimeMs : Math.max(0, now() - downSince);
      downSince = undefined;
      set({ state, reconnects: current.reconnects + 1, lastDowntimeMs, attempt: 0 });
      return;
    }
    if (state !== 'reconnecting') downSince = undefined;
    set({ state, attempt: state === 'reconnecting' ? current.attempt : 0 });
  });
  client.on('reconnecting', (info) => set({ attempt: info.attempt }));
  client.on('resumed', (info) => set({ lastReplayed: info.replayed }));
  const tracker: Tracker = {
    snapshot: () => current,
    subscribe(onChange) {
      listeners.add(onChange);
      return () => listeners.delete(onChange);
    },
  };
  trackers.set(client, tracker);
  return tracker;
}
