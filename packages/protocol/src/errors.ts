/**
 * Every error Lifeline raises is a `LifelineError` with a stable string `code`, listed in
 * docs/errors.md. Callers branch on `code` (or `instanceof`), never on `message`.
 */
export type ErrorCode =
  | 'ERR_ACK_TIMEOUT'
  | 'ERR_TIMEOUT'
  | 'ERR_ABORTED'
  | 'ERR_CLOSED'
  | 'ERR_QUEUE_FULL'
  | 'ERR_REMOTE'
  | 'ERR_RESULT_EVICTED'
  | 'ERR_PROTOCOL'
  | 'ERR_UNAUTHORIZED'
  | 'ERR_PAYLOAD_TOO_LARGE'
  | 'ERR_CONNECTION'
  | 'ERR_OUTBOX_STORE'
  | 'ERR_CHANNEL_LIMIT'
  | 'ERR_ALREADY_SUBSCRIBED'
  | 'ERR_CHANNEL_UNAVAILABLE'
  | 'ERR_ENGINE_UNAVAILABLE';

export interface LifelineErrorOptions {
  cause?: unknown;
}

export class LifelineError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: LifelineErrorOptions) {
    super(message, options);
    this.name = 'LifelineError';
    this.code = code;
  }
}

/**
 * A `send()` whose deadline passed before its ack arrived. `maybeDelivered` is true when the
 * message left this machine at least once (the peer may have processed it), false when it
 * never did: an order in an unknown state is told apart from one never sent.
 */
export class AckTimeoutError extends LifelineError {
  readonly maybeDelivered: boolean;
  readonly id: string;
  constructor(id: string, maybeDelivered: boolean, timeoutMs: number) {
    super(
      'ERR_ACK_TIMEOUT',
      `message ${id} was not acknowledged within ${timeoutMs} ms (${maybeDelivered ? 'it may have been delivered' : 'it was never sent'})`,
    );
    this.name = 'AckTimeoutError';
    this.id = id;
    this.maybeDelivered = maybeDelivered;
  }
}

/** A wait (`connect`, `receive`, `close({ drain })`) that passed its deadline. */
export class TimeoutError extends LifelineError {
  constructor(message: string) {
    super('ERR_TIMEOUT', message);
    this.name = 'TimeoutError';
  }
}

/** A wait cancelled through its `AbortSignal`; `cause` is the signal's reason. */
export class AbortError extends LifelineError {
  /** For a `send()`: whether the message left this machine before the abort. */
  readonly maybeDelivered: boolean;
  constructor(message: string, options?: LifelineErrorOptions & { maybeDelivered?: boolean }) {
    super('ERR_ABORTED', message, options);
    this.name = 'AbortError';
    this.maybeDelivered = options?.maybeDelivered ?? false;
  }
}

/** The client or session closed (or was closed) while this operation was pending. */
export class ClosedError extends LifelineError {
  readonly maybeDelivered: boolean;
  /** The WebSocket close code that ended the session, when there was one. */
  readonly closeCode: number | undefined;
  constructor(message: string, options?: LifelineErrorOptions & { maybeDelivered?: boolean; closeCode?: number }) {
    super('ERR_CLOSED', message, options);
    this.name = 'ClosedError';
    this.maybeDelivered = options?.maybeDelivered ?? false;
    this.closeCode = options?.closeCode;
  }
}

/** The bounded send queue is full and `overflow` is `'reject'`. */
export class QueueFullError extends LifelineError {
  constructor(message = 'the send queue is full') {
    super('ERR_QUEUE_FULL', message);
    this.name = 'QueueFullError';
  }
}

/** The remote handler threw; `remoteCode` and `message` are what it reported. */
export class RemoteError extends LifelineError {
  readonly remoteCode: string;
  constructor(remoteCode: string, message: string) {
    super('ERR_REMOTE', message);
    this.name = 'RemoteError';
    this.remoteCode = remoteCode;
  }
}

/** The `ack.e.code` a server answers with when a retransmission's result has left its cache. */
export const RESULT_EVICTED = 'ERR_RESULT_EVICTED';

/**
 * The server processed this message once, earlier, and its result is no longer cached, so the
 * outcome is unknown here; it was not processed again. Unlike its parent `RemoteError` ("the
 * handler threw"), this says nothing about how the handler fared: an app that must know asks
 * its server by the message `id`. A `RemoteError` subclass, so code written before it still
 * sees a rejection from the server; its `code` is `ERR_RESULT_EVICTED`, `remoteCode` the same.
 */
export class ResultEvictedError extends RemoteError {
  override readonly code = RESULT_EVICTED;
  constructor(message: string) {
    super(RESULT_EVICTED, message);
    this.name = 'ResultEvictedError';
  }
}

/** A frame broke the protocol; `closeCode` is the code the connection was (or will be) closed with. */
export class ProtocolError extends LifelineError {
  readonly closeCode: number;
  constructor(message: string, closeCode = 4400, options?: LifelineErrorOptions) {
    super('ERR_PROTOCOL', message, options);
    this.name = 'ProtocolError';
    this.closeCode = closeCode;
  }
}

/** The server refused the credentials (close code 4401) or the resume token (4403). */
export class UnauthorizedError extends LifelineError {
  readonly closeCode: number;
  constructor(message: string, closeCode = 4401) {
    super('ERR_UNAUTHORIZED', message);
    this.name = 'UnauthorizedError';
    this.closeCode = closeCode;
  }
}

/** A message larger than the peer accepts (`maxPayloadBytes`); it was not sent. */
export class PayloadTooLargeError extends LifelineError {
  readonly bytes: number;
  readonly limit: number;
  constructor(bytes: number, limit: number) {
    super('ERR_PAYLOAD_TOO_LARGE', `message of ${bytes} bytes exceeds the limit of ${limit} bytes`);
    this.name = 'PayloadTooLargeError';
    this.bytes = bytes;
    this.limit = limit;
  }
}

/** The connection closed with a code that must not be retried, or could not be opened. */
export class ConnectionError extends LifelineError {
  readonly closeCode: number;
  readonly reason: string;
  constructor(closeCode: number, reason: string, options?: LifelineErrorOptions) {
    super('ERR_CONNECTION', `connection closed (${closeCode}${reason ? `: ${reason}` : ''})`, options);
    this.name = 'ConnectionError';
    this.closeCode = closeCode;
    this.reason = reason;
  }
}

/**
 * The durable outbox (`OutboxStore`) failed: it could not keep a message (`send()` rejects and
 * nothing is queued) or could not load what an earlier run left (`connect()` rejects). `cause`
 * is the store's own error.
 */
export class OutboxStoreError extends LifelineError {
  constructor(message: string, options?: LifelineErrorOptions) {
    super('ERR_OUTBOX_STORE', message, options);
    this.name = 'OutboxStoreError';
  }
}
