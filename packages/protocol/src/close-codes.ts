/**
 * WebSocket close codes Lifeline sends or acts on. The 4xxx codes are Lifeline's own; each is
 * documented in docs/protocol.md#close-codes. Modelled on graphql-ws's numeric close-code enum.
 */
export const CloseCode = {
  /** The session ended normally (client `close()`, or `bye` acknowledged). */
  Normal: 1000,
  /** The server is shutting down or restarting: reconnect and resume, honouring `retryMs`. */
  GoingAway: 1001,
  /** A WebSocket message was larger than the receiver's `maxPayloadBytes` (sent by `ws` itself). */
  MessageTooBig: 1009,
  /** The server hit an unexpected error on this connection. */
  InternalError: 1011,
  /**
   * A temporary refusal: reconnect later, honouring `retryMs` (and resume). Sent when the server
   * is overloaded (`maxPendingHandshakes`, `maxSessions`), when the identity already holds
   * `maxSessionsPerIdentity` attached sessions, and when `authenticate` threw (its backend is down:
   * the credentials were not refused, they could not be checked).
   */
  TryAgainLater: 1013,
  /** Local only: no frame arrived within `heartbeatTimeoutMs`; the socket was dropped. Never sent. */
  HeartbeatTimeout: 4000,
  /** Local only: the connect attempt (socket open + handshake) did not finish in time. Never sent. */
  ConnectTimeout: 4001,
  /**
   * Local only: the client's receive buffer was full (`maxBufferedBytes`) and it skipped messages
   * unacknowledged; it drops the link and resumes so the server replays them. Never sent.
   */
  Refetch: 4002,
  /** A frame could not be decoded, had an unknown type, a field of the wrong type or size, or came out of turn. */
  BadFrame: 4400,
  /** `authenticate` refused the credentials in `hello` (returned `false`, `null` or `undefined`). */
  Unauthorized: 4401,
  /**
   * A resume by the session's own identity with a token that is not its current one (nor, while
   * the session is detached, the one presented last). Another identity's resume is not refused:
   * it is answered as an unknown session.
   */
  Forbidden: 4403,
  /** The `hello` asked for a protocol version this server does not speak. */
  UnsupportedVersion: 4406,
  /** No valid `hello` arrived within the server's `handshakeTimeoutMs`. */
  HandshakeTimeout: 4408,
  /** Another connection resumed this session; this one is obsolete. */
  Replaced: 4409,
  /** The server ended the session (`session.close()`); it cannot be resumed. */
  SessionEnded: 4410,
  /** The peer broke a rate limit. Reconnect later, honouring `retryMs`. */
  RateLimited: 4429,
} as const;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/**
 * Close codes after which a client must not reconnect on its own: retrying would repeat the
 * same refusal (bad credentials, bad frames) or fight another connection for the session.
 */
export const fatalCloseCodes: ReadonlySet<number> = new Set<number>([
  CloseCode.Normal,
  CloseCode.MessageTooBig,
  CloseCode.BadFrame,
  CloseCode.Unauthorized,
  CloseCode.Forbidden,
  CloseCode.UnsupportedVersion,
  CloseCode.Replaced,
  CloseCode.SessionEnded,
]);

/** Whether a client should reconnect after the socket closed with `code`. */
export function isRetryableClose(code: number): boolean {
  return !fatalCloseCodes.has(code);
}
