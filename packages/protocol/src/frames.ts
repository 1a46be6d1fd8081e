/**
 * The wire frames of protocol v1 (docs/protocol.md). Every frame is a JSON object whose string
 * `t` names its type. A WebSocket text message holds one frame, or a JSON array of frames (a
 * batch), which is how Lifeline coalesces traffic under load.
 */

export const PROTOCOL_VERSION = 1;

/** A JSON value, as carried in `msg.d` and `ack.r`. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** What a client presents to resume a session. */
export interface ResumeRequest {
  /** The session id from the previous `welcome`. */
  readonly sid: string;
  /** The secret resume token from the previous `welcome`. */
  readonly token: string;
  /** The highest server `seq` this client has delivered to its application (0 for none). */
  readonly seq: number;
}

/** Client → server, first frame on every connection. */
export interface HelloFrame {
  readonly t: 'hello';
  readonly v: number;
  /** Opaque credentials, handed to the server's `authenticate` hook. */
  readonly auth?: Json;
  readonly resume?: ResumeRequest;
  /** How many unacknowledged server messages this client will hold (its receive window). */
  readonly win?: number;
  /** Codec names the client accepts, in preference order (1–8 names of `[a-z0-9-]`, ≤ 32 each); absent means `["json"]`. */
  readonly codecs?: readonly string[];
}

/** Server → client, answer to `hello`. */
export interface WelcomeFrame {
  readonly t: 'welcome';
  readonly v: number;
  /** Session id; differs from `hello.resume.sid` when the session could not be resumed. */
  readonly sid: string;
  /** Secret resume token for the next reconnect. */
  readonly token: string;
  /** True when the session in `hello.resume` was resumed. */
  readonly resumed: boolean;
  /** The highest client `seq` the server has accepted in this session (0 for none). */
  readonly seq: number;
  /** The most unacknowledged client messages the server accepts in flight. */
  readonly win: number;
  /** The server's heartbeat interval in ms. */
  readonly hb: number;
  /** The largest WebSocket message the server accepts, in bytes. */
  readonly max: number;
  /** The session's codec, one the client offered; absent means `"json"`. */
  readonly codec?: string;
}

/** A message, either direction. */
export interface MsgFrame {
  readonly t: 'msg';
  /** Per-session, per-direction sequence number, from 1, increasing. */
  readonly seq: number;
  /** Message id: a nanoid or the sender's own; kept across `session-lost` re-sends. */
  readonly id: string;
  /** Sender's wall clock (ms since the epoch) at first transmit. */
  readonly ts: number;
  /** The payload. */
  readonly d: Json;
}

/** Server → client: the outcome of one client message, success or error. */
export type AckFrame =
  | { readonly t: 'ack'; readonly seq: number; readonly r: Json }
  | { readonly t: 'ack'; readonly seq: number; readonly e: RemoteErrorInfo };

export interface RemoteErrorInfo {
  readonly code: string;
  readonly message: string;
}

/** Server → client: successful outcomes of consecutive client messages `seq`, `seq + 1`, …. */
export interface AcksFrame {
  readonly t: 'acks';
  readonly seq: number;
  readonly r: readonly Json[];
}

/** Client → server: every server message with `seq` at or below this one was delivered. */
export interface CackFrame {
  readonly t: 'cack';
  readonly seq: number;
}

export interface PingFrame {
  readonly t: 'ping';
  /** Sender's wall clock at send. */
  readonly ts: number;
}

export interface PongFrame {
  readonly t: 'pong';
  /** The `ts` of the ping being answered. */
  readonly ts: number;
  /** Responder's wall clock when it answered (for clock-offset estimates). */
  readonly at: number;
}

/** Either direction: the sender is about to close; `retryMs` asks the client to wait before reconnecting. */
export interface ByeFrame {
  readonly t: 'bye';
  readonly code: number;
  readonly reason: string;
  readonly retryMs?: number;
}

export type Frame =
  | HelloFrame
  | WelcomeFrame
  | MsgFrame
  | AckFrame
  | AcksFrame
  | CackFrame
  | PingFrame
  | PongFrame
  | ByeFrame;

export type FrameType = Frame['t'];

/** Frames a server accepts from a client after `hello`. */
export const clientFrameTypes: ReadonlySet<FrameType> = new Set<FrameType>(['msg', 'cack', 'ping', 'pong', 'bye']);
/** Frames a client accepts from a server after `welcome`. */
export const serverFrameTypes: ReadonlySet<FrameType> = new Set<FrameType>(['msg', 'ack', 'acks', 'ping', 'pong', 'bye']);
