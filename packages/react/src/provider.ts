import { createElement, useEffect, useRef, useState, type ReactNode } from 'react';
import { createClient, type ClientOptions, type ConnectOptions, type LifelineClient } from '@lifeline/sdk';
import { ClientContext } from './context.js';
import { track } from './connection-state.js';

interface ProviderBase {
  readonly children?: ReactNode;
}

/** Give the tree a client you own: you connect and close it; the provider never does. */
export interface ClientProviderProps extends ProviderBase {
  readonly client: LifelineClient;
  readonly options?: undefined;
}

/**
 * Let the provider own the client: created from `options` (read once, at mount; change the
 * provider's `key` to start over with new options), connected on mount, closed on unmount.
 */
export interface OptionsProviderProps extends ProviderBase {
  readonly options: ClientOptions;
  readonly client?: undefined;
  /** Passed to `connect()`. @default the client's own default (connectTimeoutMs × 3) */
  readonly connect?: ConnectOptions;
  /** The first `connect()` failed (the client is then `idle`); without it the failure is only in the state. */
  readonly onConnectError?: (error: Error) => void;
}

export type LifelineProviderProps = ClientProviderProps | OptionsProviderProps;

/** Clients a provider closed: a StrictMode remount must not connect one of them again. */
const closedByProvider = new WeakSet<LifelineClient>();

/**
 * Makes a Lifeline client available to `useClient()` and the other hooks below it.
 *
 * Under StrictMode the owned client's effect runs, is cleaned up (the client is closed), and runs
 * again: the second run sees its client closed and makes a new one, so exactly one client stays
 * connected and every client the provider made is closed once.
 */
export function LifelineProvider(props: LifelineProviderProps): ReactNode {
  const owned = useOwnedClient(props);
  const client = props.client ?? owned;
  if (props.client !== undefined && props.options !== undefined) {
    throw new TypeError('LifelineProvider takes a `client` or an `options` prop, not both');
  }
  if (client === undefined) throw new TypeError('LifelineProvider needs a `client` or an `options` prop');
  // Idempotent per client: the connection counts start when the provider first sees it.
  track(client);
  return createElement(ClientContext.Provider, { value: client }, props.children);
}

function useOwnedClient(props: LifelineProviderProps): LifelineClient | undefined {
  // Read once: a client is not rebuilt because a parent passed a new options object.
  const [initial] = useState(() => (props.options === undefined ? undefined : { options: props.options, connect: props.connect }));
  const [owned, setOwned] = useState<LifelineClient | undefined>(() => (initial === undefined ? undefined : createClient(initial.options)));
  const onConnectError = useRef<((error: Error) => void) | undefined>(undefined);
  onConnectError.current = props.options === undefined ? undefined : props.onConnectError;

  useEffect(() => {
    if (owned === undefined || initial === undefined) return;
    if (closedByProvider.has(owned)) {
      // StrictMode's second run: the cleanup closed this one; a closed client never reopens.
      setOwned(createClient(initial.options));
      return;
    }
    owned.connect(initial.connect).catch((error: unknown) => {
      if (!closedByProvider.has(owned)) onConnectError.current?.(error instanceof Error ? error : new Error(String(error)));
    });
    return () => {
      closedByProvider.add(owned);
      // close() settles everything pending with ClosedError; its own failure has no one to tell.
      owned.close().catch(() => {});
    };
  }, [owned, initial]);
  return owned;
}
