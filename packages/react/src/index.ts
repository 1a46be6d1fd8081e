/**
 * @lifeline/react — React bindings for a Lifeline client: `LifelineProvider` gives a tree its
 * client (yours, or one it owns), and the hooks read its connection state, send with the
 * outcome surfaced (including `maybeDelivered`), and follow channels. The list is docs/api.md.
 */
export { LifelineProvider } from './provider.js';
export type { LifelineProviderProps, ClientProviderProps, OptionsProviderProps } from './provider.js';
export { useClient, useConnectionState } from './hooks.js';
export type { ConnectionState } from './connection-state.js';
export { useSend } from './use-send.js';
export type { SendFunction, SendOutcome, SendStatus } from './use-send.js';
export { useChannel } from './use-channel.js';
export type { ChannelState, UseChannelOptions } from './use-channel.js';
export type {
  ChannelClient,
  ChannelPosition,
  ChannelSubscription,
  ChannelSubscriptionEvents,
  GapInfo,
  PresenceMember,
  Publication,
  PublicationMeta,
  SubscribeOptions,
} from './channel-types.js';
