import type { IncomingMessage } from 'node:http';
import type WebSocket from 'ws';
import { CloseCode, ProtocolError, jsonCodec, type Codec, type Frame, type PluginContext } from '@lifeline/protocol';
import { FrameWriter, now as monotonic } from '@lifeline/protocol/internal';
import { noSessionContext, type ServerContext } from './context.js';
import type { SessionImpl } from './session.js';

/**
 * Above this many bytes waiting in the socket, new server → client messages wait (acks and
 * heartbeats still go) and the socket is not read until it drains: a slow client must not make
 * the server buffer without limit, and a client that does not read must not make it answer more.
 */
export const HIGH_WATER_BYTES = 4 * 1024 * 1024;

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

/** `ws` closes the socket itself after these receiver errors; we only report them. */
const wsErrorCodes: Readonly<Record<string, number>> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: CloseCode.MessageTooBig,
  WS_ERR_INVALID_UTF8: 1007,
};

/** A WebSocket close reason may hold at most 123 bytes of UTF-8. */
export function closeReason(reason: string): string {
  if (Buffer.byteLength(reason) <= 123) return reason;
  let cut = reason.slice(0, 120);
  while (Buffer.byteLength(cut) > 120) cut = cut.slice(0, -1);
  return `${cut}...`;
}

export type ConnectionState = 'handshake' | 'open' | 'closing' | 'closed';

/** What a connection needs from the server around it. */
export interface ConnectionHooks {
  /** Frames that arrived before the handshake completed. */
  onHandshakeFrames(conn: Connection, frames: Frame[]): void;
  /** The socket is gone (after `close` or `terminate`, or from the peer). */
  onClosed(conn: Connection): void;
}

/**
 * One WebSocket: decodes what arrives and writes through a coalescing `FrameWriter`, both in the
 * connection's codec (JSON until `welcome`, then the session's), and closes with a documented
 * code. The session it serves may outlive it.
 */
export class Connection {
  state: ConnectionState = 'handshake';
  session: SessionImpl | undefined;
  /** Every frame of this connection is written by it: `hello`/`welcome` are JSON, so it starts as JSON. */
  codec: Codec = jsonCodec;
  /** Replaced only with the codec (`useCodec`); read it at each write, never keep it. */
  writer: FrameWriter<unknown>;
  /** Monotonic ms of the last sweep that found the connection alive. */
  lastSeen = 0;
  /** Monotonic ms of the last ping sent. */
  lastPing = 0;
  /** A write crossed `HIGH_WATER_BYTES`; outbound resumes in that write's callback. */
  blocked = false;
  helloSeen = false;
  /** Frames that came after `hello` while `authenticate` ran; dispatched after `welcome`. */
  held: Frame[] | undefined;
  /** `ts` of the last ping, until a pong answers it (NaN: none outstanding). */
  private pingTs = Number.NaN;
  /** Bytes of the WebSocket messages behind `held`. */
  heldBytes = 0;
  /** Bytes each frame of the WebSocket message being handled stands for (its length over its frames). */
  frameBytes = 0;
  /**
   * Highest seq answered to a duplicate on this connection. A client retransmits once per
   * connection, in seq order, so anything at or below it was answered here already: copies of
   * one message must not multiply its answer.
   */
  duplicatesAnswered = 0;
  /** `ReadPause` bits in force; 0 while the socket is read. */
  private pausedFor = 0;
  private heard = true;
  private pluginContext: PluginContext = noSessionContext;

  constructor(
    readonly ws: WebSocket,
    readonly req: IncomingMessage,
    private readonly ctx: ServerContext,
    private readonly hooks: ConnectionHooks,
  ) {
    this.writer = new FrameWriter(this.codec, this.sink, undefined, this.beforeFlush);
    ws.on('message', this.onMessage);
    ws.on('close', this.onClose);
    ws.on('error', this.onError);
  }

  /**
   * Set by every inbound message; the heartbeat sweep reads and clears it (no clock read per
   * message). True while reading is paused for the handler's backlog alone: that silence is ours.
   */
  get alive(): boolean {
    return this.heard || this.pausedFor === ReadPause.Queued;
  }

  set alive(value: boolean) {
    this.heard = value;
  }

  /** Stop reading the socket for `reason` (see `ReadPause`). */
  pauseReading(reason: ReadPause): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    if (this.pausedFor === 0) this.ws.pause();
    this.pausedFor |= reason;
  }

  /** `reason` no longer holds; the socket is read again once no other does. */
  resumeReading(reason: ReadPause): void {
    if ((this.pausedFor & reason) === 0) return;
    this.pausedFor &= ~reason;
    if (this.pausedFor === 0) this.ws.resume();
  }

  /** Bind to a session (after the handshake or a resume). */
  bind(session: SessionImpl): void {
    this.session = session;
    this.pluginContext = session.pluginContext;
  }

  /**
   * After `welcome` is written: every later frame in the session's `codec`. A JSON session goes on
   * batching with the welcome; any other codec sends the welcome's text message first.
   */
  useCodec(codec: Codec): void {
    if (codec === this.codec) return;
    this.writer.flush();
    this.codec = codec;
    this.writer = new FrameWriter(codec, this.sink, undefined, this.beforeFlush);
  }

  ping(wallNow: number): void {
    this.pingTs = wallNow;
    this.writer.push(this.codec.ping(wallNow));
  }

  /**
   * `bye` then close, both with `code`: the client learns why, and `retryMs` when to come back.
   * Acks first, so the client learns every outcome before it reads the goodbye.
   */
  goodbye(code: number, reason: string, retryMs?: number): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    const session = this.session;
    if (session !== undefined && session.connection === this) session.inbound.flushAcks(this.writer);
    this.writer.push(this.codec.bye(code, reason, retryMs));
    this.close(code, reason);
  }

  /** Close for bad input: reported through `protocol-error` and `onProtocolError`, then closed with `code`. */
  fail(code: number, reason: string): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.report(code, reason);
    this.close(code, reason);
  }

  private report(code: number, reason: string): void {
    this.ctx.reportProtocolError({ code, reason, sessionId: this.session?.id });
    const plugins = this.ctx.plugins;
    if (plugins.active) plugins.onProtocolError({ closeCode: code, message: reason, at: monotonic() }, this.pluginContext);
  }

  /**
   * Flush what is pending (acks included), then close; the session is detached at once. Every
   * close the server starts is bounded: a peer that has not answered the close frame within the
   * grace (`Limits.linger`) is destroyed, instead of holding its socket and buffers for `ws`'s 30 s.
   */
  close(code: number, reason: string): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    try {
      this.writer.flush();
    } catch (error) {
      this.ctx.reportError(error);
    }
    this.state = 'closing';
    this.writer.discard();
    this.dropHeld();
    try {
      this.ws.close(code, closeReason(reason));
    } catch (error) {
      this.ctx.reportError(error);
      this.ws.terminate();
    }
    this.ctx.limits.linger(this);
    this.readToClose();
    this.detach(code, reason);
  }

  /** A paused socket would never see the peer's close frame; what it sends now is dropped unread. */
  private readToClose(): void {
    if (this.pausedFor === 0) return;
    this.pausedFor = 0;
    this.ws.resume();
  }

  /** Drop the socket without a closing handshake (dead peer, or shutdown deadline). */
  terminate(reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closing';
    this.writer.discard();
    this.dropHeld();
    this.ws.terminate();
    this.detach(1006, reason);
  }

  /**
   * Handle frames of an open connection; stops at the first frame that closed it. `frameBytes`:
   * what each frame cost the peer on the wire (for the handler queue's byte bound).
   */
  dispatch(frames: readonly Frame[], frameBytes: number): void {
    const session = this.session as SessionImpl;
    // Arrival clocks for the plugins: read on the first msg frame only, as every frame of one
    // WebSocket message arrived at once.
    let wallAt = 0;
    let at = 0;
    for (let i = 0; i < frames.length; i++) {
      if (this.state !== 'open') return;
      const f = frames[i] as Frame;
      switch (f.t) {
        case 'msg':
          if (at === 0 && this.ctx.plugins.active) {
            wallAt = this.ctx.options.now();
            at = monotonic();
          }
          session.inbound.receive(f, wallAt, at, frameBytes);
          break;
        case 'cack':
          session.outbound.cack(f.seq);
          break;
        case 'ping':
          this.writer.push(this.codec.pong(f.ts, this.ctx.options.now()));
          break;
        case 'pong':
          // Only the answer to our last ping counts: a forged one would set any clock offset.
          if (f.ts !== this.pingTs) break;
          this.pingTs = Number.NaN;
          if (this.ctx.plugins.active) {
            const rttMs = Math.max(0, this.ctx.options.now() - f.ts);
            const offsetMs = f.at - (f.ts + rttMs / 2);
            this.ctx.plugins.onClock({ rttMs, offsetMs, at: monotonic() }, this.pluginContext);
          }
          break;
        case 'bye':
          // Only 1000 ends the session; any other bye just precedes a close we will see.
          if (f.code === CloseCode.Normal) session.end('client-closed', CloseCode.Normal, undefined, 'session ended by the client');
          return;
        case 'hello':
          this.fail(CloseCode.BadFrame, 'a second hello');
          return;
        default:
          this.fail(CloseCode.BadFrame, `a client may not send ${f.t}`);
          return;
      }
    }
  }

  /**
   * Frames held behind `hello` are never handled once the connection closes; they must not live
   * as long as an `authenticate()` (or a session store) that hangs keeps this object reachable.
   */
  private dropHeld(): void {
    this.held = undefined;
    this.heldBytes = 0;
  }

  private detach(code: number, reason: string): void {
    const session = this.session;
    if (session !== undefined) session.detachFrom(this, code, reason);
  }

  private readonly onMessage = (data: WebSocket.RawData, isBinary: boolean): void => {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.heard = true;
    // A binary message reaches the codec as a Buffer: JSON refuses it with 4400.
    const message: unknown = isBinary ? data : (data as Buffer).toString();
    const plugins = this.ctx.plugins;
    if (plugins.active && typeof message === 'string') plugins.onBytes({ in: message.length, out: 0 }, this.pluginContext);
    let frames: Frame[];
    try {
      frames = this.codec.decode(message);
    } catch (error) {
      if (error instanceof ProtocolError) this.fail(error.closeCode, error.message);
      else this.fail(CloseCode.BadFrame, 'undecodable message');
      return;
    }
    // Counted in frames, not WebSocket messages: a batch may hold 4096.
    if (this.ctx.limits.rated && !this.ctx.limits.admitFrames(this, frames.length)) return;
    this.frameBytes = Math.ceil((data as Buffer).length / frames.length);
    try {
      if (this.state === 'open') this.dispatch(frames, this.frameBytes);
      else this.hooks.onHandshakeFrames(this, frames);
    } catch (error) {
      // Our own bug, not the peer's: report it, and drop only this connection.
      this.ctx.reportError(error);
      this.close(CloseCode.InternalError, 'internal error');
    }
  };

  private readonly sink = (message: unknown): void => {
    const ws = this.ws;
    if (ws.readyState !== 1) return;
    const size = this.codec.size(message);
    const plugins = this.ctx.plugins;
    if (plugins.active) plugins.onBytes({ in: 0, out: size }, this.pluginContext);
    if (!this.blocked && ws.bufferedAmount + size > HIGH_WATER_BYTES) {
      this.blocked = true;
      this.pauseReading(ReadPause.Written);
      ws.send(message as string | Buffer, this.onWritten);
    } else {
      ws.send(message as string | Buffer);
    }
  };

  /** The write that crossed the high-water mark reached the kernel (or the socket died): handle, send and read more. */
  private readonly onWritten = (): void => {
    this.blocked = false;
    this.resumeReading(ReadPause.Written);
    const session = this.session;
    if (session === undefined || session.connection !== this) return;
    try {
      session.inbound.drain();
      session.outbound.pump();
    } catch (error) {
      this.ctx.reportError(error);
    }
  };

  private readonly beforeFlush = (): void => {
    const session = this.session;
    if (session !== undefined && session.connection === this) session.inbound.flushAcks(this.writer);
  };

  private readonly onClose = (code: number, reason: Buffer): void => {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.writer.discard();
    this.dropHeld();
    try {
      this.detach(code, reason.toString());
      this.hooks.onClosed(this);
    } catch (error) {
      this.ctx.reportError(error);
    }
  };

  private readonly onError = (error: Error & { code?: string }): void => {
    if (this.state === 'closing' || this.state === 'closed') return;
    // ws emits 'error' for receiver violations (too big, bad UTF-8, bad framing) and closes
    // with the matching code itself; we report it and let go of the session.
    const code = (error.code !== undefined ? wsErrorCodes[error.code] : undefined) ?? 1002;
    this.report(code, error.message);
    this.state = 'closing';
    this.writer.discard();
    this.dropHeld();
    this.detach(code, error.message);
  };
}
