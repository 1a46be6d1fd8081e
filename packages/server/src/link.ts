import type { FrameSink } from '@lifeline/protocol/internal';

/**
 * Why the server stopped reading a socket; several may hold at once, and reading resumes when
 * none does. Not reading is the one backpressure a peer cannot ignore: TCP stops its writes.
 */
export const ReadPause = {
  /** The socket buffers more than `HIGH_WATER_BYTES`: answers would only pile up. */
  Written: 1,
  /** Frames wait behind `hello` for `authenticate`. */
  Held: 2,
  /** The session's handler queue holds more than `maxInboundBytes`. */
  Queued: 4,
} as const;
export type ReadPause = (typeof ReadPause)[keyof typeof ReadPause];

/**
 * What a session's outbound queue needs of the connection that holds the session: whether the
 * socket takes writes now, and where a `msg` frame goes.
 */
export interface OutboundLink {
  /** Below the socket's high-water mark: more may be written now. */
  readonly writable: boolean;
  push(frame: unknown): void;
}

/**
 * What a session's inbound part needs of that connection: where its acks go (frames, or a flush
 * to ask for while its run of acks waits to be pulled), whether to hold back the handler for a
 * socket that does not take writes, its reading to pause, and a close for a broken window.
 */
export interface InboundLink extends OutboundLink, FrameSink<unknown> {
  pauseReading(reason: ReadPause): void;
  resumeReading(reason: ReadPause): void;
  /** Close for bad input: reported as a protocol error, then closed with `code`. */
  fail(code: number, reason: string): void;
}

/** What a session holds of the connection attached to it: the above, and the ways to end it. */
export interface Link extends InboundLink {
  /** Flush what is pending (acks included), then close with `code`. */
  close(code: number, reason: string): void;
  /** `bye` then close, both with `code`; acks first. */
  goodbye(code: number, reason: string, retryMs?: number): void;
  /** Drop the socket without a closing handshake. */
  terminate(reason: string): void;
}
