export { PROTOCOL_VERSION, clientFrameTypes, serverFrameTypes } from './frames.js';
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
  PingFrame,
  PongFrame,
  ByeFrame,
  ResumeRequest,
  RemoteErrorInfo,
} from './frames.js';
export { decode, validateFrame, checkDepth, jsonCodec } from './codec.js';
export type { Codec } from './codec.js';
export { jsonEncoder, errorValue, encodeMsg, payloadDepthOk, MAX_PAYLOAD_DEPTH, MAX_BATCHED_RESULT_DEPTH } from './encoder.js';
export type { FrameEncoder, HandshakeEncoder, HelloFields, WelcomeFields } from './encoder.js';
export { DEFAULT_CODEC, chooseCodec, codecNamed, offers, checkCodecs } from './negotiate.js';
export { decodeDefaults } from './limits.js';
export type { DecodeLimits } from './limits.js';
export { FrameWriter, atTurnEnd } from './writer.js';
export type { FlushProducer, FrameSink } from './writer.js';
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
export { PluginHost, now } from './plugin.js';
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
export { Deadlines } from './deadlines.js';
export type { DeadlineOptions, DeadlineSlot } from './deadlines.js';
export { messageId, flatten } from './ids.js';

// --- Internal: shared by the client session and the server, not for applications. The lead
// moves these behind an `internal` entry point (issue 10).
export { Fifo } from './fifo.js';
export { SendQueue } from './send-queue.js';
export type { SendOptions, SendQueueOptions, SendLog, QueueBound } from './send-options.js';
export { Outgoing } from './outgoing.js';
