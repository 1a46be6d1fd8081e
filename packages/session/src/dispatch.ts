import { ProtocolError, type Frame, type Json, type PluginContext } from '@lifeline/protocol';
import type { ClockSample, PluginHost } from '@lifeline/protocol/internal';
import type { Inbox } from './inbox.js';
import type { Outbox } from './outbox.js';
import type { Subscriptions } from './subscriptions.js';
import type { Wire } from './wire.js';

/** What dispatch needs of the transport: the heartbeat's pong check, backpressure, a server's retry hint. */
export interface DispatchLink {
  /** The round trip and clock offset of a `pong` that answers our last ping (once per ping). */
  pong(ts: number, at: number): ClockSample | undefined;
  retryAfter(ms: number): void;
  readonly writable: boolean;
}

export interface DispatchHost {
  /** Whether the session is still open: a listener may close it between two frames of a batch. */
  isOpen(): boolean;
  /** The server broke the protocol: close with the error's code and end the session. */
  protocolError(error: ProtocolError): void;
  readonly plugins: PluginHost;
  ctx(): PluginContext;
  now(): number;
}

/**
 * The client's inbound side after the handshake: each frame of a decoded message goes to the
 * part that owns it — `msg` to the inbox, `ack`/`acks` to the outbox (which settles the
 * `send()` promise), `ping` answered on the wire, `pong` read as the round trip and the clock
 * offset, `bye` passed to the transport as a retry hint, channel frames to the subscriptions. The queue is pumped once per message,
 * after the acks that made room.
 */
export class Dispatch {
  /** Last heartbeat round trip, ms (NaN before the first pong). */
  rttMs = Number.NaN;
  /** Estimated server clock minus local clock, ms (NaN before the first pong). */
  clockOffsetMs = Number.NaN;
  /** An ack made room in the window: pump once the message is done. */
  private needPump = false;

  constructor(
    private readonly host: DispatchHost,
    private readonly link: DispatchLink,
    private readonly wire: Wire,
    private readonly inbox: Inbox,
    private readonly outbox: Outbox,
    private readonly channels: Subscriptions,
  ) {}

  /** One inbound WebSocket message. */
  readonly message = (data: unknown): void => {
    let frames: Frame[];
    try {
      frames = this.wire.decode(data);
    } catch (error) {
      this.host.protocolError(error as ProtocolError);
      return;
    }
    this.frames(frames);
  };

  /** Frames in order, stopping if one ends the session; then the pump their acks made room for. */
  frames(frames: readonly Frame[]): void {
    const host = this.host;
    for (let i = 0; i < frames.length; i++) {
      if (!host.isOpen()) return;
      this.frame(frames[i] as Frame);
    }
    if (this.needPump && host.isOpen()) {
      this.needPump = false;
      this.outbox.pump();
      // Answers moved the mark: the `got` leaves with this turn's frames, or alone.
      if (this.outbox.gotDue()) this.wire.schedule();
    }
  }

  private frame(f: Frame): void {
    switch (f.t) {
      case 'msg':
        if (!this.inbox.accept(f)) {
          this.host.protocolError(new ProtocolError(`the server sent more than the receive window of ${this.inbox.window} unacknowledged messages`));
        }
        return;
      case 'ack': {
        const at = this.host.plugins.active ? this.host.now() : 0;
        if ('e' in f) this.outbox.nack(f.seq, f.e, at);
        else this.outbox.ack(f.seq, f.r, at);
        this.needPump = true;
        return;
      }
      case 'acks': {
        // One clock read for the whole run (plugins' `onAck.at`), not one per message.
        const at = this.host.plugins.active ? this.host.now() : 0;
        for (let i = 0; i < f.r.length; i++) this.outbox.ack(f.seq + i, f.r[i] as Json, at);
        this.needPump = true;
        return;
      }
      case 'ping':
        // Over the high-water mark the server is not reading what we write (or cannot yet): a pong
        // would only grow our buffer, 40 bytes for each 20 it sent. Any frame it gets proves us alive.
        if (!this.link.writable) return;
        this.wire.push(this.wire.codec.pong(f.ts, Date.now()));
        return;
      case 'pong':
        this.pong(f.ts, f.at);
        return;
      case 'bye':
        // The server closes next; its close code decides whether the transport reconnects.
        if (f.retryMs !== undefined) this.link.retryAfter(f.retryMs);
        return;
      case 'subok':
      case 'suberr':
      case 'pub':
      case 'gap':
      case 'join':
      case 'leave':
      case 'members':
        this.channels.frame(f);
        return;
      default:
        this.host.protocolError(new ProtocolError(`unexpected ${f.t} frame from the server`));
    }
  }

  private pong(ts: number, at: number): void {
    const sample = this.link.pong(ts, at);
    if (sample === undefined) return; // answers no ping of ours
    this.rttMs = sample.rttMs;
    this.clockOffsetMs = sample.offsetMs;
    const { plugins } = this.host;
    if (plugins.active) plugins.onClock({ ...sample, at: this.host.now() }, this.host.ctx());
  }
}
