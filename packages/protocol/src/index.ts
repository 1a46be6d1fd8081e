/**
 * @lifeline/protocol: what a user of the SDK or the server, a plugin author, or the author of a
 * peer in another language (and its tests) uses. The pieces the client and the server share to
 * implement the protocol (queues, writers, deadlines, the plugin host, codec negotiation) are at
 * `@lifeline/protocol/internal`, which carries no compatibility promise. The list, with a line on
 * each name: docs/api.md.
 *
 * @module @lifeline/protocol
 */
export { PROTOCOL_VERSION } from './frames.js';
export type {
  Json,
  Frame,
  FrameType,
  HelloFrame,
  WelcomeFrame,
  MsgFrame,
  AckFrame,
  AcksFrame,
  CackFrame,
  GotFrame,
  PingFrame,
  PongFrame,
  ByeFrame,
  ResumeRequest,
  RemoteErrorInfo,
  StreamPosition,
  ChannelMember,
  ChannelClientFrame,
  ChannelServerFrame,
  SubFrame,
  UnsubFrame,
  PackFrame,
  PresenceFrame,
  SubOkFrame,
  SubErrFrame,
  PubFrame,
  GapFrame,
  JoinFrame,
  LeaveFrame,
  MembersFrame,
} from './frames.js';
export { jsonCodec } from './codec.js';
export { msgpackCodec } from './msgpack-codec.js';
export type { Codec } from './codec.js';
export type { DecodeLimits } from './limits.js';
export { CloseCode, fatalCloseCodes, isRetryableClose } from './close-codes.js';
export {
  LifelineError,
  AckTimeoutError,
  TimeoutError,
  AbortError,
  ClosedError,
  QueueFullError,
  RemoteError,
  ResultEvictedError,
  RESULT_EVICTED,
  ProtocolError,
  UnauthorizedError,
  OutboxStoreError,
  PayloadTooLargeError,
  ConnectionError,
} from './errors.js';
export type { ErrorCode, LifelineErrorOptions } from './errors.js';
export type { SendOptions } from './send-options.js';
export type {
  LifelinePlugin,
  PluginHook,
  PluginContext,
  Side,
  SendEvent,
  TransmitEvent,
  AckEvent,
  FailEvent,
  ReceiveEvent,
  DeliverEvent,
  StateEvent,
  ReconnectEvent,
  ResumeEvent,
  SessionLostEvent,
  DropEvent,
  ProtocolErrorEvent,
  ClockEvent,
  BytesEvent,
} from './plugin.js';
