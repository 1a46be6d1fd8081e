import type { Json } from '@lifeline/sdk';

/*
 * The client side of channels as docs/DESIGN.md "Channels" describes it. `client.subscribe()` is
 * being added to @lifeline/session on another branch; until it lands these types are the
 * contract `useChannel` is written against, and should then become re-exports of the SDK's own.
 */

/** Where a subscriber is in a channel: persist it to resume later. */
export interface ChannelPosition {
  readonly offset: number;
  readonly epoch: string;
}

export interface PublicationMeta {
  readonly channel: string;
  readonly offset: number;
  readonly epoch: string;
  readonly publishedAt: number;
  readonly id: string;
}

export interface Publication {
  readonly data: Json;
  readonly meta: PublicationMeta;
}

/** History no longer held what the subscriber missed: the range `from`..`to` is lost. */
export interface GapInfo {
  readonly channel: string;
  readonly from: number;
  readonly to: number;
  readonly reason: string;
}

export interface PresenceMember {
  readonly clientId: string;
  readonly sessionId: string;
  readonly identity?: Json;
}

export interface ChannelSubscriptionEvents {
  publication: (data: Json, meta: PublicationMeta) => void;
  gap: (info: GapInfo) => void;
  join: (member: PresenceMember) => void;
  leave: (member: PresenceMember) => void;
}

/** What `client.subscribe()` returns: the part of it `useChannel` uses. */
export interface ChannelSubscription {
  ready(options?: { timeoutMs?: number; signal?: AbortSignal }): Promise<void>;
  on<E extends keyof ChannelSubscriptionEvents>(event: E, listener: ChannelSubscriptionEvents[E]): unknown;
  off<E extends keyof ChannelSubscriptionEvents>(event: E, listener: ChannelSubscriptionEvents[E]): unknown;
  presence(): Promise<readonly PresenceMember[]>;
  readonly position: ChannelPosition | undefined;
  unsubscribe(): Promise<void>;
}

export interface SubscribeOptions {
  readonly since?: ChannelPosition;
}

/** A client that can subscribe to channels. */
export interface ChannelClient {
  subscribe(channel: string, options?: SubscribeOptions): ChannelSubscription;
}
