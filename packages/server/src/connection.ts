import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type WebSocket from 'ws';
import { CloseCode, ProtocolError, jsonCodec, type Codec, type Frame, type PluginContext } from '@lifeline/protocol';
import { ClockProbe, type FrameWriter, now as monotonic } from '@lifeline/protocol/internal';
import type { ChannelFrames } from './channels/subscriptions.js';
import { noSessionContext, type ConnectionHooks, type ServedSession } from './connection-hooks.js';
import { ReadPause, type Link } from './link.js';
import { giveBack, takeWriter } from './writer-pool.js';

/**
 * Above this many bytes waiting in the socket, new server → client messages wait (acks and
 * heartbeats still go) and the socket is not read until it drains: a slow client must not make
 * the server buffer without limit, and a client that does not read must not make it answer more.
 */
export const HIGH_WATER_BYTES = 4 * 1024 * 1024;

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

/**
 * `handshake` (upgraded, before `welcome`), `open` (a session's frames flow), `closing` (we
 * closed it, or it broke the protocol: nothing more is read or written for it), `closed` (the
 * socket is gone). A peer may drop the socket in any state but the last.
 */
export type ConnectionState = 'handshake' | 'open' | 'closing' | 'closed';

/** The connection a socket serves, on the socket itself: the socket's listeners are shared by all connections. */
const kConnection = Symbol('lifeline.connection');
/** The bits of `Connection.flags`. */
const Flag = {
  /** A write crossed `HIGH_WATER_BYTES`; writing resumes in that write's callback. */
  Blocked: 1,
  /** The first frame was a valid `hello`. */
  SawHello: 2,
  /** Set by every inbound message; the heartbeat sweep reads and clears it (no clock read per message). */
  Heard: 4,
  /** Set by an inbound `ping`; cleared with `Heard` (the heartbeat counts it as its own ping). */
  Answered: 8,
} as const;

/** `ReadPause` bits sit in `Connection.flags` shifted by this much; 0 there while the socket is read. */
const PAUSE_SHIFT = 4;
const PAUSED = 7 << PAUSE_SHIFT;

/** What few connections make: kept apart, so an idle connection pays one field for all of it. */
interface Rare {
  /** The callback of the write that crossed `HIGH_WATER_BYTES`, made at the first such write. */
  onWritten: (() => void) | undefined;
  /**
   * The last ping and the one pong that may answer it; made at our first ping. A client that
   * pings at our interval is never pinged (`Heartbeat`), so most connections never make it.
   */
  clock: ClockProbe | undefined;
  /**
   * This connection's channel subscriptions, made at its first channel frame (an app that never
   * subscribes pays nothing for them: about 250 bytes per connection, issue 14); they end with it.
   */
  channels: ChannelFrames | undefined;
  /** Why the connection is in its state, where that is not `usualReason`'s (closing, closed). */
  why: string | undefined;
}

/** Why a connection is in each state when nothing else was said: a string field of each connection less. */
const usualReason: Readonly<Record<ConnectionState, string>> = {
  handshake: 'upgraded',
  open: 'welcome',
  closing: 'closing',
  closed: 'closed',
};

type OwnedSocket = WebSocket & { [kConnection]: Connection };

const transitions: Readonly<Record<ConnectionState, readonly ConnectionState[]>> = {
  handshake: ['open', 'closing', 'closed'],
  open: ['closing', 'closed'],
  closing: ['closed'],
  closed: [],
};

/** What a connection keeps only while its handshake runs (`Connection.handshaking`). */
interface Handshaking {
  /**
   * The upgrade request, for `authenticate`; let go once the connection is open: with its headers
   * it is about 1 KB per connection that nothing reads afterwards (issue 14).
   */
  request: IncomingMessage | undefined;
  /**
   * Frames that came after `hello` while `authenticate` ran, dispatched after `welcome`; made at
   * the first such frame. `heldBytes`: the bytes of the WebSocket messages they came in.
   */
  held: Frame[] | undefined;
  heldBytes: number;
}

/**
 * One WebSocket: decodes what arrives and hands an open session's frames to it, writes through
 * a coalescing `FrameWriter` (JSON until `welcome`, then the session's codec, pulling the
 * session's acks at each flush), and closes with a documented code. The session it serves may
 * outlive it. Its state changes only through `moveTo`, each move with its reason.
 */
export class Connection implements Link {
  /**
   * The state, changed only by `moveTo` against `transitions`: a field rather than a
   * `StateMachine` object, 48 bytes less per connection (issue 14). Why it holds is
   * `usualReason[state]`, or for a closing connection `rare.why`.
   */
  private current: ConnectionState = 'handshake';
  private served: ServedSession | undefined;
  /**
   * The writer of this turn's batch: taken at the first frame (`writing`), given back once it has
   * flushed at the turn's end with nothing more due (`writerIdle`). Let go, not replaced, when
   * the codec changes (`open`).
   */
  private writer: FrameWriter<unknown> | undefined;
  /**
   * `Flag` bits, and the `ReadPause` bits in force above `PAUSE_SHIFT`: five fields in one small
   * integer, 32 bytes less of every connection (issue 14). A new connection counts as heard.
   */
  private flags: number = Flag.Heard;
  /** Made at the first of its parts (see `Rare`); most connections never make it. */
  private rare: Rare | undefined;
  /**
   * Bytes as a sign of life, not only whole messages: a message that arrives a byte at a time (a
   * slow or fragmenting link, a starved CPU) can take longer than the heartbeat's timeout. The
   * sweep compares the socket's byte count with the one it saw last, which costs nothing per read
   * (a `data` listener cost a call per chunk and ~100 bytes per connection: issue 14).
   */
  private readonly tcp: Socket;
  private bytesSeen = 0;
  /** The `Heartbeat`'s (see `HeartbeatPeer`; negative: not watched). */
  lastSeen = -1;
  lastPing = 0;

  /**
   * What only the handshake reads, in one object let go once the connection is open: one field
   * of every open connection instead of two (8 bytes, issue 14).
   */
  private handshaking: Handshaking | undefined;

  constructor(
    private readonly ws: WebSocket,
    req: IncomingMessage,
    private readonly hooks: ConnectionHooks,
  ) {
    this.handshaking = { request: req, held: undefined, heldBytes: 0 };
    (ws as OwnedSocket)[kConnection] = this;
    ws.on('message', Connection.messageListener);
    ws.on('close', Connection.closeListener);
    ws.on('error', Connection.errorListener);
    this.tcp = req.socket;
  }

  get state(): ConnectionState {
    return this.current;
  }

  /**
   * Every frame of this connection is in it: JSON until `open` (`hello`/`welcome` are JSON),
   * then its session's. Read from the session, not kept (a field of every connection, issue 14).
   */
  private get codec(): Codec {
    return this.served?.codec ?? jsonCodec;
  }

  /** The upgrade request while the handshake runs; `undefined` once the connection is open. */
  get req(): IncomingMessage | undefined {
    return this.handshaking?.request;
  }

  /** Why the connection is in its state. */
  get stateReason(): string {
    return this.rare?.why ?? usualReason[this.current];
  }

  /** The session it serves, once open (kept after it closes, for reports). */
  get session(): ServedSession | undefined {
    return this.served;
  }

  get writable(): boolean {
    return (this.flags & Flag.Blocked) === 0;
  }

  /** Bytes the socket holds unsent (the slow-client sweep reads it). */
  get bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }

  /**
   * Something arrived since the heartbeat last cleared it. True while reading is paused for the
   * handler's backlog alone: that silence is ours.
   */
  get alive(): boolean {
    return (this.flags & Flag.Heard) !== 0 || this.tcp.bytesRead !== this.bytesSeen || (this.flags & PAUSED) === ReadPause.Queued << PAUSE_SHIFT;
  }

  /** A `ping` arrived (and was answered) since the heartbeat last cleared `alive`. */
  get pinged(): boolean {
    return (this.flags & Flag.Answered) !== 0;
  }

  /** The heartbeat took note of `alive`: from now on, only a new inbound message sets it. */
  clearAlive(): void {
    this.flags &= ~(Flag.Heard | Flag.Answered);
    this.bytesSeen = this.tcp.bytesRead;
  }

  get helloSeen(): boolean {
    return (this.flags & Flag.SawHello) !== 0;
  }

  /** The first frame was a valid `hello`: any other is a protocol error. */
  helloReceived(): void {
    this.flags |= Flag.SawHello;
  }

  /** Frames held behind `hello`, and the bytes of the messages they came in. */
  get heldCount(): number {
    return this.handshaking?.held?.length ?? 0;
  }

  get heldBytes(): number {
    return this.handshaking?.heldBytes ?? 0;
  }

  /**
   * Keep `f`, which came with or after `hello`, until the session opens (`releaseHeld`);
   * `frameBytes`: what it stands for of the message it came in (`dispatch`).
   */
  holdFrame(f: Frame, frameBytes: number): void {
    const hs = (this.handshaking ??= { request: undefined, held: undefined, heldBytes: 0 });
    (hs.held ??= []).push(f);
    hs.heldBytes += frameBytes;
  }

  /** Stop reading the socket for `reason` (see `ReadPause`). */
  pauseReading(reason: ReadPause): void {
    if (!this.can('closing')) return;
    if ((this.flags & PAUSED) === 0) this.ws.pause();
    this.flags |= reason << PAUSE_SHIFT;
  }

  /** `reason` no longer holds; the socket is read again once no other does. */
  resumeReading(reason: ReadPause): void {
    const bit = reason << PAUSE_SHIFT;
    if ((this.flags & bit) === 0) return;
    this.flags &= ~bit;
    if ((this.flags & PAUSED) === 0) this.ws.resume();
  }

  /**
   * handshake → open: `welcome` (JSON text) is written, then every frame in the session's codec,
   * with the session's acks pulled at each flush. A JSON session goes on batching with the
   * welcome; any other codec sends the welcome's text message first.
   */
  open(welcome: unknown, session: ServedSession): boolean {
    if (!this.moveTo('open', 'welcome')) return false;
    // The object itself goes with the held frames (`releaseHeld`, which follows every `open`).
    if (this.handshaking !== undefined) this.handshaking.request = undefined;
    this.hooks.onOpened(this);
    const writer = this.writing();
    writer.push(welcome);
    if (session.codec !== this.codec) {
      writer.flush();
      // Given back at its turn's end, when the flush it is due finds it empty.
      this.writer = undefined;
    }
    // From here on, the session's codec.
    this.served = session;
    this.writer?.pullFrom(session.acks);
    return true;
  }

  /** Frames held behind `hello` are handled now, in order, and the socket is read again. */
  releaseHeld(): void {
    const held = this.handshaking?.held;
    const bytes = this.handshaking?.heldBytes ?? 0;
    this.dropHeld();
    this.resumeReading(ReadPause.Held);
    if (held !== undefined && this.state === 'open') this.dispatch(held, Math.ceil(bytes / held.length));
  }

  /** Write a frame in the connection's codec (through the coalescing writer). */
  push(frame: unknown): void {
    this.writing().push(frame);
  }

  /** Ask for a flush at the end of this turn: the session's acks wait to be pulled. */
  schedule(): void {
    this.writing().schedule();
  }

  ping(wallNow: number): void {
    (this.rareParts().clock ??= new ClockProbe()).sent(wallNow);
    this.writing().push(this.codec.ping(wallNow));
  }

  /**
   * `bye` then close, both with `code`: the client learns why, and `retryMs` when to come back.
   * Acks first, so the client learns every outcome before it reads the goodbye.
   */
  goodbye(code: number, reason: string, retryMs?: number): void {
    if (!this.can('closing')) return;
    const writer = this.writing();
    writer.gather();
    writer.push(this.codec.bye(code, reason, retryMs));
    this.close(code, reason);
  }

  /** Close for bad input: reported through `protocol-error` and `onProtocolError`, then closed with `code`. */
  fail(code: number, reason: string): void {
    if (!this.can('closing')) return;
    this.report(code, reason);
    this.close(code, reason);
  }

  /**
   * Flush what is pending (acks included), then close; the session is detached at once. Every
   * close the server starts is bounded: a peer that has not answered the close frame within the
   * grace (`Limits.linger`) is destroyed, instead of holding its socket and buffers for `ws`'s 30 s.
   */
  close(code: number, reason: string): void {
    if (!this.can('closing')) return;
    try {
      this.writer?.flush();
    } catch (error) {
      this.hooks.reportError(error);
    }
    this.moveTo('closing', `closed ${code} by the server: ${reason}`);
    this.stopWriting();
    try {
      this.ws.close(code, closeReason(reason));
    } catch (error) {
      this.hooks.reportError(error);
      this.ws.terminate();
    }
    this.hooks.limits.linger(this);
    this.readToClose();
    this.detach(code, reason);
  }

  /** Drop the socket without a closing handshake (dead peer, or a deadline); also a closing one. */
  terminate(reason: string): void {
    if (this.state === 'closed') return;
    this.moveTo('closing', `terminated: ${reason}`); // refused when closing already: it stays so
    this.stopWriting();
    this.ws.terminate();
    this.detach(1006, reason);
  }

  private report(code: number, reason: string): void {
    this.hooks.reportProtocolError({ code, reason, sessionId: this.served?.id });
    const plugins = this.hooks.plugins;
    if (plugins.active) plugins.onProtocolError({ closeCode: code, message: reason, at: monotonic() }, this.pluginContext);
  }

  /** A paused socket would never see the peer's close frame; what it sends now is dropped unread. */
  private readToClose(): void {
    if ((this.flags & PAUSED) === 0) return;
    this.flags &= ~PAUSED;
    this.ws.resume();
  }

  /**
   * Leaving `handshake` or `open`: nothing more is written, and the session's acks are no longer
   * pulled (they belong to whichever connection takes the session next). Frames held behind
   * `hello` are never handled now; they must not live as long as an `authenticate()` (or a
   * session store) that hangs keeps this object reachable.
   */
  private stopWriting(): void {
    this.writer?.pullFrom(undefined);
    this.writer?.discard();
    this.dropHeld();
    const channels = this.rare?.channels;
    if (this.rare !== undefined) this.rare.channels = undefined;
    channels?.close();
  }

  /**
   * The held frames go, and with them the handshake object once its request is gone too (open);
   * before that the request stays for an `authenticate` still to be called (it reads `req`).
   */
  private dropHeld(): void {
    const hs = this.handshaking;
    if (hs === undefined) return;
    if (hs.request === undefined) {
      this.handshaking = undefined;
      return;
    }
    hs.held = undefined;
    hs.heldBytes = 0;
  }

  private detach(code: number, reason: string): void {
    this.served?.detachFrom(this, code, reason);
  }

  /**
   * Handle frames of an open connection; stops at the first frame that closed it. `frameBytes`:
   * what each frame cost the peer on the wire (for the handler queue's byte bound).
   */
  private dispatch(frames: readonly Frame[], frameBytes: number): void {
    const session = this.served as ServedSession;
    const plugins = this.hooks.plugins;
    // Arrival clocks for the plugins: read on the first msg frame only, as every frame of one
    // WebSocket message arrived at once.
    let wallAt = 0;
    let at = 0;
    for (let i = 0; i < frames.length; i++) {
      if (this.state !== 'open') return;
      const f = frames[i] as Frame;
      switch (f.t) {
        case 'msg':
          if (at === 0 && plugins.active) {
            wallAt = this.hooks.now();
            at = monotonic();
          }
          session.receive(f, wallAt, at, frameBytes);
          break;
        case 'cack':
          session.cack(f.seq);
          break;
        case 'got':
          session.got(f.seq);
          break;
        case 'ping':
          this.flags |= Flag.Answered;
          this.writing().push(this.codec.pong(f.ts, this.hooks.now()));
          break;
        case 'pong': {
          // Only the answer to our last ping counts: a forged one would set any clock offset.
          const sample = this.rare?.clock?.answer(f.ts, f.at, this.hooks.now());
          if (sample !== undefined && plugins.active) plugins.onClock({ ...sample, at: monotonic() }, this.pluginContext);
          break;
        }
        case 'bye':
          // Only 1000 ends the session; any other bye just precedes a close we will see.
          if (f.code === CloseCode.Normal) session.endedByClient();
          return;
        case 'sub':
        case 'unsub':
        case 'pack':
        case 'presence':
          // Only while open (checked above): a closed connection never makes them again.
          (this.rareParts().channels ??= this.hooks.openChannels(this, session)).frame(f);
          break;
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
   * The socket's listeners, one of each for all connections (`ws` calls them on the socket, which
   * holds its connection): three closures per connection were 168 bytes (issue 14).
   */
  private static readonly messageListener = function (this: WebSocket, data: WebSocket.RawData, isBinary: boolean): void {
    (this as OwnedSocket)[kConnection].onMessage(data, isBinary);
  };

  private static readonly closeListener = function (this: WebSocket, code: number, reason: Buffer): void {
    (this as OwnedSocket)[kConnection].onClose(code, reason);
  };

  private static readonly errorListener = function (this: WebSocket, error: Error & { code?: string }): void {
    (this as OwnedSocket)[kConnection].onError(error);
  };

  private onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    if (!this.can('closing')) return;
    this.flags |= Flag.Heard;
    // A binary message reaches the codec as a Buffer: JSON refuses it with 4400.
    const message: unknown = isBinary ? data : (data as Buffer).toString();
    const plugins = this.hooks.plugins;
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
    const limits = this.hooks.limits;
    if (limits.rated && !limits.admitFrames(this, frames.length)) return;
    // Bytes each frame stands for: the message's length over its frames.
    const frameBytes = Math.ceil((data as Buffer).length / frames.length);
    try {
      if (this.state === 'open') this.dispatch(frames, frameBytes);
      else this.hooks.onHandshakeFrames(this, frames, frameBytes);
    } catch (error) {
      // Our own bug, not the peer's: report it, and drop only this connection.
      this.hooks.reportError(error);
      this.close(CloseCode.InternalError, 'internal error');
    }
  }


  private can(next: ConnectionState): boolean {
    return transitions[this.current].includes(next);
  }

  /** Move to `next` for `reason`; false (and nothing changes) when the table does not allow it. */
  private moveTo(next: ConnectionState, reason: string): boolean {
    if (!this.can(next)) return false;
    this.current = next;
    if (reason !== usualReason[next]) this.rareParts().why = reason;
    else if (this.rare !== undefined) this.rare.why = undefined;
    return true;
  }

  /** The session's, once open: read when plugins listen, not kept (it is made when first asked for). */
  private get pluginContext(): PluginContext {
    return this.served?.pluginContext ?? noSessionContext;
  }

  /** Made whole at the first part, so every one has the same shape. */
  private rareParts(): Rare {
    return (this.rare ??= { onWritten: undefined, clock: undefined, channels: undefined, why: undefined });
  }

  /**
   * This turn's writer, taken at its first frame: in the connection's codec, pulling the session's
   * acks while the connection is open.
   */
  private writing(): FrameWriter<unknown> {
    return (this.writer ??= takeWriter(this.codec, this, this.current === 'open' ? this.served?.acks : undefined));
  }

  /** A writer of this connection flushed at its turn's end and holds nothing: the pool keeps it till the next frame. */
  writerIdle(writer: FrameWriter<unknown>): void {
    if (this.writer === writer) this.writer = undefined;
    giveBack(writer);
  }

  /** The writer's sink: one WebSocket message to the socket (a method, so no closure per connection). */
  writeMessage(message: unknown): void {
    const ws = this.ws;
    if (ws.readyState !== 1) return;
    const size = this.codec.size(message);
    const plugins = this.hooks.plugins;
    if (plugins.active) plugins.onBytes({ in: 0, out: size }, this.pluginContext);
    if ((this.flags & Flag.Blocked) === 0 && ws.bufferedAmount + size > HIGH_WATER_BYTES) {
      this.flags |= Flag.Blocked;
      this.pauseReading(ReadPause.Written);
      ws.send(message as string | Buffer, (this.rareParts().onWritten ??= () => this.written()));
    } else {
      ws.send(message as string | Buffer);
    }
  }

  /** The write that crossed the high-water mark reached the kernel (or the socket died): handle, send and read more. */
  private written(): void {
    this.flags &= ~Flag.Blocked;
    this.resumeReading(ReadPause.Written);
    try {
      this.served?.drained(this);
      this.rare?.channels?.drained();
    } catch (error) {
      this.hooks.reportError(error);
    }
  }

  private onClose(code: number, reason: Buffer): void {
    if (!this.moveTo('closed', `socket closed ${code}`)) return;
    this.stopWriting();
    try {
      this.detach(code, reason.toString());
      this.hooks.onClosed(this);
    } catch (error) {
      this.hooks.reportError(error);
    }
  }

  private onError(error: Error & { code?: string }): void {
    if (!this.can('closing')) return;
    // ws emits 'error' for receiver violations (too big, bad UTF-8, bad framing) and closes
    // with the matching code itself; we report it and let go of the session.
    const code = (error.code !== undefined ? wsErrorCodes[error.code] : undefined) ?? 1002;
    this.report(code, error.message);
    this.moveTo('closing', `socket error ${code}: ${error.message}`);
    this.stopWriting();
    this.detach(code, error.message);
  }
}
