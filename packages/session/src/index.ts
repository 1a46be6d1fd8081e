export { LifelineClient } from './client.js';
export type { ClientEvents, ConnectOptions, CloseOptions, SessionLostInfo, ResumedInfo, DisconnectInfo } from './events.js';
export { clientDefaults, resolveClientOptions } from './options.js';
export type { ClientOptions, ResolvedClientOptions, AuthProvider, QueueLimits, OverflowPolicy } from './options.js';
export type { SendOptions } from './outbox.js';
export type { MessageMeta, ReceiveOptions, MessagesOptions } from './inbox.js';
export type { ClientState, ClientStateChange } from './state.js';
export { helloFrame } from './replay.js';
export type { SessionTicket, WelcomeOutcome } from './replay.js';
