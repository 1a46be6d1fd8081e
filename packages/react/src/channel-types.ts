import type { GapInfo, Json, PublicationMeta } from '@lifeline/sdk';

// The SDK's own types where it has them: the hook shows exactly what `subscribe()` gives.
export type { GapInfo, Publication, PublicationMeta } from '@lifeline/sdk';

/*
 * The part of the client's channel API that `useChannel` uses: narrow interfaces, so a test can
 * hand the hook a fake subscription. The data types are the SDK's own.
 */

/** Where a subscriber is in a channel: persist it to resume later. */
export interface ChannelPosition {
  readonly offset: number;
  readonly epoch: string;
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
