import type { Codec, Frame, MsgFrame, PluginContext } from '@lifeline/protocol';
import type { FlushProducer, PluginHost } from '@lifeline/protocol/internal';
import type { ChannelFrames } from './channels/subscriptions.js';
import type { Connection } from './connection.js';
import type { Link } from './link.js';

// What a connection is given by the server, and what it sees of the session it serves: narrow
// views, so the connection writes no one's fields and no one writes its own.

/** A connection closed for bad input, as the server's `protocol-error` event reports it. */
export interface ProtocolErrorInfo {
  /** The close code sent (4400, 4401, 4403, 4406, 4408, or 1009 and friends from the WebSocket layer). */
  readonly code: number;
  readonly reason: string;
  /** The session the connection held, when it had one. */
  readonly sessionId: string | undefined;
}

/** Plugin context for events that happen before a connection has a session. */
export const noSessionContext: PluginContext = Object.freeze({ side: 'server', sessionId: undefined });

/** What an open connection hands its frames to: the session it serves (a `SessionImpl`). */
export interface ServedSession {
  readonly id: string;
  readonly pluginContext: PluginContext;
  /** Every frame after `welcome` is in it. */
  readonly codec: Codec;
  /** The session's run of acks, pulled by the connection's writer at each flush. */
  readonly acks: FlushProducer<unknown>;
  /** A `msg` frame. */
  receive(f: MsgFrame, wallAt: number, at: number, bytes: number): void;
  /** A `cack` frame. */
  cack(seq: number): void;
  /** A `got` frame: the client holds every answer up to `seq`. */
  got(seq: number): void;
  /** The client's `bye` 1000: the session ends. */
  endedByClient(): void;
  /** `conn`'s socket took what it had buffered: the session may handle and write more. */
  drained(conn: Link): void;
  /** `conn` is closing or closed: the session lets go of it (nothing when another one holds it). */
  detachFrom(conn: Link, code: number, reason: string): void;
}

/** The limits a connection answers to (the server's `Limits`). */
export interface ConnectionLimits {
  /** Whether frames are counted at all. */
  readonly rated: boolean;
  /** Charge the frames of one WebSocket message; false when refused (the connection is closing). */
  admitFrames(conn: Connection, frames: number): boolean;
  /** A close we started: bound the wait for the peer's close frame. */
  linger(conn: Connection): void;
}

/** What a connection is given by the server around it. */
export interface ConnectionHooks {
  readonly plugins: PluginHost;
  /** Wall clock in ms (pong answers, clock offsets). */
  readonly now: () => number;
  readonly limits: ConnectionLimits;
  /** Frames that arrived before the handshake completed; `frameBytes`: what each stands for of its message. */
  onHandshakeFrames(conn: Connection, frames: Frame[], frameBytes: number): void;
  /** The connection opened for `session`: where its channel frames go (its subscriptions end with it). */
  openChannels(conn: Connection, session: ServedSession): ChannelFrames;
  /** The handshake succeeded (`welcome` written): the connection stops counting as pending. */
  onOpened(conn: Connection): void;
  /** The socket is gone (after `close` or `terminate`, or from the peer). */
  onClosed(conn: Connection): void;
  /** An unexpected failure: reported through the server's `error` event, never thrown. */
  reportError(error: unknown): void;
  /** The connection is being closed for bad input. */
  reportProtocolError(info: ProtocolErrorInfo): void;
}
