/**
 * The wire frames of protocol v1 (docs/protocol.md). Every frame is a JSON object whose string
 * `t` names its type. A WebSocket text message holds one frame, or a JSON array of frames (a
 * batch), which is how Lifeline coalesces traffic under load.
 */

/** The protocol version this code speaks, sent as `hello.v` and `welcome.v`. */
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
  /**
   * The client's secret name for the session this `hello` would open (16–64 characters of
   * `[A-Za-z0-9_-]`), kept and sent again until a `welcome` arrives: a server that opened a
   * session for it whose `welcome` was lost gives that session again instead of another.
   */
  readonly nonce?: string;
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
  /**
   * True when the server frees cached outcomes on `got` (a one-node session): the client sends
   * `got` only then. Absent: the server keeps the outcomes of the last `win` seqs.
   */
  readonly got?: boolean;
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

/**
 * Client → server: the client holds the answer of every message with `seq` at or below this one,
 * and will never send one of them again; the server may forget their outcomes (an ack of acks,
 * as SignalR's stateful reconnect and QUIC have). Sent only when `welcome.got` is true.
 */
export interface GotFrame {
  readonly t: 'got';
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

// ---- Channels (protocol v1 additions; docs/protocol.md, "Channels") ------------------------------
// Channel frames live outside the session's `seq`: a subscriber is fed from the channel's history
// by a cursor, so nothing here is queued per subscriber, and `pub` carries no per-subscriber
// field, so one encoding is written to every subscriber's socket.

/** A position in a channel: the offset of the last publication seen, in the history named by `epoch`. */
export interface StreamPosition {
  /** Offset of a publication (1, 2, 3 … per channel); 0 for "before the first". */
  readonly offset: number;
  /** The channel history's id; a new one means the history before it is gone. */
  readonly epoch: string;
}

/** Who is subscribed to a channel (presence), as `join`, `leave` and `members` carry it. */
export interface ChannelMember {
  /** The subscriber's id, unique in the channel (one per subscribing client). */
  readonly clientId: string;
  /** The Lifeline session the subscriber belongs to. */
  readonly sessionId: string;
  /** What the server chose to show of the subscriber's authenticated identity. */
  readonly identity?: Json;
}

/** Client → server: subscribe to `ch`, from now or from a saved position. */
export interface SubFrame {
  readonly t: 'sub';
  readonly ch: string;
  /** Deliver every publication after this position (recovery); absent: from the subscribe point. */
  readonly since?: StreamPosition;
  /** The most publications of this channel the client holds without a `pack` (its window). */
  readonly win?: number;
}

/** Client → server: end the subscription to `ch`. Publications already on the way are ignored. */
export interface UnsubFrame {
  readonly t: 'unsub';
  readonly ch: string;
}

/** Client → server: every publication of `ch` up to `offset` was delivered (cumulative). */
export interface PackFrame {
  readonly t: 'pack';
  readonly ch: string;
  readonly offset: number;
}

/** Client → server: who is subscribed to `ch`? Answered by `members`. */
export interface PresenceFrame {
  readonly t: 'presence';
  readonly ch: string;
}

/** Server → client: the subscription to `ch` is live; publications after the subscribe point follow. */
export interface SubOkFrame {
  readonly t: 'subok';
  readonly ch: string;
  /** The channel's latest offset when the subscription started: caught up once it is delivered. */
  readonly offset: number;
  readonly epoch: string;
  /** With `sub.since`: true when everything after it is still in the history (no `gap` follows). */
  readonly recovered?: boolean;
  /**
   * The window the server applies: `sub.win` or its own smaller cap. A client paces its `pack`
   * by it (absent from older servers: the client's own `win`).
   */
  readonly win?: number;
}

/** Server → client: the subscription to `ch` was refused, or has ended. */
export interface SubErrFrame {
  readonly t: 'suberr';
  readonly ch: string;
  readonly code: string;
  readonly message: string;
}

/** Server → client: one publication; the same bytes go to every subscriber. */
export interface PubFrame {
  readonly t: 'pub';
  readonly ch: string;
  readonly offset: number;
  readonly epoch: string;
  /** The publisher's idempotency id, when it gave one. */
  readonly id?: string;
  /** When the publication was stored (server wall clock, ms since the Unix epoch). */
  readonly ts: number;
  readonly d: Json;
}

/**
 * Server → client: publications `from`..`to` of `epoch` will not be delivered (the history no
 * longer holds them); with reason `epoch`, neither will what was missed in the earlier history.
 * The subscriber's position is `{ offset: to, epoch }` afterwards.
 */
export interface GapFrame {
  readonly t: 'gap';
  readonly ch: string;
  readonly from: number;
  readonly to: number;
  readonly epoch: string;
  /** `evicted` (same history, too far behind) or `epoch` (the history was lost); others may come. */
  readonly reason: string;
}

/** Server → client: `member` subscribed to `ch`. */
export interface JoinFrame {
  readonly t: 'join';
  readonly ch: string;
  readonly member: ChannelMember;
}

/** Server → client: `member` left `ch`. */
export interface LeaveFrame {
  readonly t: 'leave';
  readonly ch: string;
  readonly member: ChannelMember;
}

/** Server → client: the answer to `presence`. */
export interface MembersFrame {
  readonly t: 'members';
  readonly ch: string;
  readonly members: readonly ChannelMember[];
}

export type ChannelClientFrame = SubFrame | UnsubFrame | PackFrame | PresenceFrame;
export type ChannelServerFrame = SubOkFrame | SubErrFrame | PubFrame | GapFrame | JoinFrame | LeaveFrame | MembersFrame;

export type Frame =
  | HelloFrame
  | WelcomeFrame
  | MsgFrame
  | AckFrame
  | AcksFrame
  | CackFrame
  | GotFrame
  | PingFrame
  | PongFrame
  | ByeFrame
  | ChannelClientFrame
  | ChannelServerFrame;

export type FrameType = Frame['t'];

/** Frames a server accepts from a client after `hello`. */
export const clientFrameTypes: ReadonlySet<FrameType> = new Set<FrameType>(['msg', 'cack', 'got', 'ping', 'pong', 'bye', 'sub', 'unsub', 'pack', 'presence']);
/** Frames a client accepts from a server after `welcome`. */
export const serverFrameTypes: ReadonlySet<FrameType> = new Set<FrameType>([
  'msg', 'ack', 'acks', 'ping', 'pong', 'bye', 'subok', 'suberr', 'pub', 'gap', 'join', 'leave', 'members',
]);
