import { useContext, useSyncExternalStore } from 'react';
import type { LifelineClient } from '@lifeline/sdk';
import { ClientContext } from './context.js';
import { track, type ConnectionState } from './connection-state.js';

/** The client of the nearest `LifelineProvider`; throws outside one (a missing provider is a bug, not a state). */
export function useClient(): LifelineClient {
  const client = useContext(ClientContext);
  if (client === null) throw new Error('useClient() must be called inside a <LifelineProvider>');
  return client;
}

/** The connection's state, reconnect count and last downtime; re-renders on every change. */
export function useConnectionState(): ConnectionState {
  const tracker = track(useClient());
  return useSyncExternalStore(tracker.subscribe, tracker.snapshot, tracker.snapshot);
}
