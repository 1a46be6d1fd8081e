import { CloseCode, ConnectionError, ProtocolError, UnauthorizedError, jsonCodec, type Codec, type LifelineError } from '@lifeline/protocol';
import { ReadyState, clampReason, type WebSocketLike } from './socket.js';

/** What the session's handshake sees of a connection that is open but not yet established. */
export interface HandshakeLink {
  /** Write one WebSocket message (`hello` is JSON text). */
  send(text: string): void;
  /** The next WebSocket message from the peer (`welcome` is JSON text); rejects when the connection closes first. */
  receive(): Promise<string>;
  /** The codec `welcome` chose: the transport's own frames (`ping`) and what it accepts after the handshake follow it. */
  useCodec(codec: Codec): void;
}

/** The typed error for a connection that closed with `code` (docs/protocol.md#close-codes). */
export function closeError(code: number, reason: string): LifelineError {
  switch (code) {
    case CloseCode.Unauthorized:
    case CloseCode.Forbidden:
      return new UnauthorizedError(reason || (code === CloseCode.Unauthorized ? 'unauthorized' : 'forbidden'), code);
    case CloseCode.BadFrame:
    case CloseCode.UnsupportedVersion:
      return new ProtocolError(reason || 'the peer reported a protocol error', code);
    default:
      return new ConnectionError(code, reason);
  }
}

/** `ws` reports a message over its `maxPayload` with this error code (and starts a 1009 close). */
const WS_TOO_BIG = 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';

type Phase = 'connecting' | 'handshake' | 'open' | 'closed';

/**
 * Above `maxPayloadBytes`, what `early` may hold: a real server sends nothing before `hello` but
 * a `bye`, and after `welcome` the handshake ends within the socket read that brought it (at most
 * one message of any size plus the rest of one read, 64 KiB).
 */
const EARLY_SLACK_CHARS = 64 * 1024;

interface Pending<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

export interface LinkHandlers {
  message(data: unknown): void;
  close(code: number, reason: string): void;
  /** Bytes arrived on the connection (`ws` only: browsers show whole messages alone). */
  bytes?(): void;
}

/**
 * One WebSocket from construction to close. Before `activate()` it buffers inbound messages for
 * the handshake (`receive()`); after, it hands them to the transport. Once closed or dropped it
 * ignores the socket for good (the `error` listener stays: `ws` throws on an unheard `error`).
 */
export class Link implements HandshakeLink {
  /** JSON until the handshake says otherwise. */
  codec: Codec = jsonCodec;
  private phase: Phase = 'connecting';
  private early: unknown[] = [];
  /** Characters held in `early`, bounded by `maxPayloadBytes + EARLY_SLACK_CHARS`. */
  private earlyChars = 0;
  private opening: Pending<void> | undefined;
  private waiter: Pending<string> | undefined;
  private failure: LifelineError | undefined;
  private handlers: LinkHandlers | undefined;

  constructor(
    readonly socket: WebSocketLike,
    /** Longer inbound messages close the link with 1009 before anyone decodes them. */
    private readonly maxPayloadBytes = Infinity,
  ) {
    socket.addEventListener('open', () => this.handleOpen());
    // `ws`'s DOM-style wrapper builds a MessageEvent for every message and decodes text the same
    // way (`data.toString()`): with 10,000 sockets in one process that object was a sixth of
    // what the client allocated per message in the fan-out bench.
    if (typeof socket.on === 'function') socket.on('message', (data, isBinary) => this.handleMessage(isBinary ? data : data.toString()));
    else socket.addEventListener('message', (event) => this.handleMessage(event.data));
    // Bytes as a sign of life: a message that arrives a byte at a time (a slow or fragmenting
    // link, a starved CPU) can take longer than the heartbeat's timeout while the link is fine.
    // Listened to from 'open' on: a 'data' listener added during the upgrade would set the TCP
    // socket flowing before `ws` has taken it over.
    socket.on?.('upgrade', (response) => {
      const tcp = response.socket;
      if (tcp !== undefined) socket.addEventListener('open', () => tcp.on('data', () => this.handlers?.bytes?.()));
    });
    socket.addEventListener('close', (event) => this.handleClose(event.code, event.reason));
    socket.addEventListener('error', (event) => this.handleError(event));
  }

  get closed(): boolean {
    return this.phase === 'closed';
  }

  /** Resolves once the socket is open; rejects with the close error if it closes first. */
  opened(): Promise<void> {
    if (this.phase !== 'connecting') return this.failure ? Promise.reject(this.failure) : Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.opening = { resolve, reject };
    });
  }

  send(message: unknown): boolean {
    if (this.phase === 'closed' || this.socket.readyState !== ReadyState.OPEN) return false;
    this.socket.send(message as string);
    return true;
  }

  useCodec(codec: Codec): void {
    this.codec = codec;
    // Browsers hand binary messages over as Blobs unless told otherwise; codecs read bytes.
    if (codec.binary && 'binaryType' in this.socket) this.socket.binaryType = 'arraybuffer';
  }

  receive(): Promise<string> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.early.length > 0) return this.textOrFail(this.takeEarly());
    if (this.waiter) return Promise.reject(new TypeError('receive() is already waiting'));
    return new Promise<string>((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** Hand the link to the transport: from now on messages and the close go to `handlers`. */
  activate(handlers: LinkHandlers): void {
    if (this.phase === 'closed') return;
    this.phase = 'open';
    this.handlers = handlers;
  }

  /** Deliver messages that arrived during the handshake after the one it consumed. */
  flush(): void {
    while (this.phase === 'open' && this.early.length > 0) this.handlers?.message(this.takeEarly());
  }

  /** Drop the connection at once (no closing handshake when the socket can avoid one). */
  drop(code: number, reason: string): void {
    if (this.phase === 'closed') return;
    this.fail(new ConnectionError(code, reason));
    try {
      if (this.socket.terminate) this.socket.terminate();
      else this.socket.close(code, clampReason(reason));
    } catch {
      // Already closing, or a code the socket refuses: the link is abandoned either way.
    }
  }

  /** Close with a closing handshake. */
  close(code: number, reason: string): void {
    if (this.phase === 'closed') return;
    this.fail(new ConnectionError(code, reason));
    try {
      this.socket.close(code, clampReason(reason));
    } catch {
      this.socket.terminate?.();
    }
  }

  private handleOpen(): void {
    if (this.phase !== 'connecting') return;
    this.phase = 'handshake';
    const opening = this.opening;
    this.opening = undefined;
    opening?.resolve();
  }

  private handleMessage(data: unknown): void {
    // Browsers have no maxPayload: the whole message is already in memory, but it goes no further.
    const size = typeof data === 'string' ? data.length : ((data as { byteLength?: number } | null)?.byteLength ?? 0);
    if (size > this.maxPayloadBytes) {
      this.tooBig(`a message of ${size} ${typeof data === 'string' ? 'characters' : 'bytes'} exceeds maxPayloadBytes (${this.maxPayloadBytes})`, false);
      return;
    }
    switch (this.phase) {
      case 'open':
        this.handlers?.message(data);
        return;
      case 'handshake': {
        const waiter = this.waiter;
        if (waiter === undefined) {
          this.hold(data);
          return;
        }
        this.waiter = undefined;
        if (typeof data === 'string') waiter.resolve(data);
        else waiter.reject(binaryError());
        return;
      }
      default:
    }
  }

  /**
   * Keep a message that came before the handshake asked for it. A server that sends more than a
   * handshake can explain (a flood while an async `auth()` runs, up to `connectTimeoutMs`) is
   * dropped with 4400 rather than buffered: issue 9, docs/bounds.md.
   */
  private hold(data: unknown): void {
    const chars = typeof data === 'string' ? data.length : ((data as { byteLength?: number }).byteLength ?? 0);
    if (this.early.length > 0 && this.earlyChars + chars > this.maxPayloadBytes + EARLY_SLACK_CHARS) {
      const error = new ProtocolError(`the server sent more than ${this.maxPayloadBytes + EARLY_SLACK_CHARS} characters before the handshake finished`, CloseCode.BadFrame);
      this.fail(error);
      try {
        if (this.socket.terminate) this.socket.terminate();
        else this.socket.close(error.closeCode, clampReason(error.message));
      } catch {
        // already closing
      }
      return;
    }
    this.early.push(data);
    this.earlyChars += chars;
  }

  private takeEarly(): unknown {
    const data = this.early.shift();
    this.earlyChars -= typeof data === 'string' ? data.length : ((data as { byteLength?: number } | undefined)?.byteLength ?? 0);
    return data;
  }

  private handleError(event: unknown): void {
    const error = (event as { error?: { code?: unknown } } | null)?.error;
    if (error?.code === WS_TOO_BIG) this.tooBig(`a message exceeds maxPayloadBytes (${this.maxPayloadBytes})`, true);
  }

  /**
   * An oversized message: 1009 (MessageTooBig, fatal). The close is reported at once; the socket
   * is terminated when `ws` already sent its 1009, so a peer that never answers the close frame
   * cannot hold it for `ws`'s 30 s.
   */
  private tooBig(reason: string, closing: boolean): void {
    if (this.phase === 'closed') return;
    const wasOpen = this.phase === 'open';
    this.fail(new ConnectionError(CloseCode.MessageTooBig, reason));
    try {
      if (closing && this.socket.terminate) this.socket.terminate();
      else this.socket.close(CloseCode.MessageTooBig, clampReason(reason));
    } catch {
      // Browsers may only send 1000 or 3000–4999: close without a code rather than stay open.
      try {
        this.socket.close();
      } catch {
        // already closing
      }
    }
    if (wasOpen) this.handlers?.close(CloseCode.MessageTooBig, reason);
  }

  private handleClose(code: number, reason: string): void {
    if (this.phase === 'closed') return;
    const wasOpen = this.phase === 'open';
    this.fail(closeError(code, reason));
    if (wasOpen) this.handlers?.close(code, reason);
  }

  private fail(error: LifelineError): void {
    this.phase = 'closed';
    this.failure = error;
    this.early = [];
    this.earlyChars = 0;
    const { opening, waiter } = this;
    this.opening = undefined;
    this.waiter = undefined;
    opening?.reject(error);
    waiter?.reject(error);
  }

  private textOrFail(data: unknown): Promise<string> {
    return typeof data === 'string' ? Promise.resolve(data) : Promise.reject(binaryError());
  }
}

/** The json codec is text only (docs/protocol.md#codecs); binary messages are for binary codecs. */
export function binaryError(): ProtocolError {
  return new ProtocolError('a binary message on a JSON connection (the json codec is text only)', CloseCode.BadFrame);
}
