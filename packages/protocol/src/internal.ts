/**
 * `@lifeline/protocol/internal`: what the client (`@lifeline/transport`, `@lifeline/session`)
 * and the server (`@lifeline/server`) share to implement the protocol, and what their tests
 * reach for. It is not for applications and carries no compatibility promise: any name here may
 * change or go in any release. The public names are in the package's main entry (docs/api.md).
 */

// Frames and the JSON codec's parts.
export { clientFrameTypes, serverFrameTypes } from './frames.js';
export { decode, validateFrame, checkDepth } from './codec.js';
export { decodeDefaults } from './limits.js';
export { isChannelName, maxChannelNameLength, maxEpochLength, maxGapReasonLength } from './channels.js';
export { jsonEncoder, errorValue, encodeMsg, payloadDepthOk, MAX_PAYLOAD_DEPTH, MAX_BATCHED_RESULT_DEPTH } from './encoder.js';
export type { FrameEncoder, HandshakeEncoder, HelloFields, WelcomeFields } from './encoder.js';

// Choosing a session's codec in hello/welcome.
export { DEFAULT_CODEC, chooseCodec, codecNamed, offers, checkCodecs } from './negotiate.js';

// The wire layer and the send queue both sides use.
export { FrameWriter, MAX_BATCH_SIZE, atTurnEnd } from './writer.js';
export type { FlushProducer, FrameSink, MessageSink } from './writer.js';
export { Deadlines } from './deadlines.js';
export { afterIo, afterIoTimers, unref } from './timers.js';
export type { DeadlineOptions, DeadlineSlot } from './deadlines.js';
export { Fifo } from './fifo.js';
export { SeqFifo } from './seq-fifo.js';
export { SendQueue } from './send-queue.js';
export type { SendQueueOptions, SendLog, QueueBound } from './send-options.js';
export { Outgoing } from './outgoing.js';
export { messageId, flatten } from './ids.js';

// Running plugins: the hooks' types are public, the host that calls them is not.
export { PluginHost, now } from './plugin.js';
export { ClockProbe } from './clock-probe.js';
export type { ClockSample } from './clock-probe.js';
export { StateMachine } from './state-machine.js';
export type { Transition } from './state-machine.js';
