import { ProtocolError, jsonCodec, type Codec, type Frame, type PluginContext, type WelcomeFrame } from '@lifeline/protocol';
import { codecNamed, messageId, type PluginHost } from '@lifeline/protocol/internal';
import { type HandshakeLink } from '@lifeline/transport';
import { closeError } from '@lifeline/transport/internal';
import type { ResumedInfo, SessionLostInfo } from './events.js';
import type { Inbox } from './inbox.js';
import type { ResolvedClientOptions } from './options.js';
import type { Outbox } from './outbox.js';
import { helloFields, reconcile, type SessionTicket, type WelcomeOutcome } from './replay.js';
import { toProtocolError, type ByteMeter, type Wire } from './wire.js';

/** What the handshake needs of the transport besides the link: a `bye`'s retry hint. */
export interface HandshakeTransport {
  retryAfter(ms: number): void;
}

export interface HandshakeHost {
  readonly plugins: PluginHost;
  /** Report a protocol error (event and plugins); returns it, to throw. */
  reportProtocolError(error: ProtocolError): ProtocolError;
  resumed(info: ResumedInfo): void;
  sessionLost(info: SessionLostInfo): void;
}

/** A `welcome` received, waiting for the transport to adopt its connection. */
interface Welcomed {
  readonly frame: WelcomeFrame;
  /** Frames batched after it: they belong to the session it opens. */
  readonly rest: Frame[];
  readonly codec: Codec;
}

/**
 * The session's handshake on every connection (docs/protocol.md, `hello` and `welcome`), in
 * three steps the transport drives: `run` (hello out, welcome in, on the new socket), `establish`
 * (the connection is adopted: apply the welcome to both directions, just before the state turns
 * 'open'), `announce` (once 'open': resume events, then the frames batched with the welcome).
 * It holds what identifies the session: the ticket a resume presents, the plugins' context.
 */
export class SessionHandshake {
  /** The session a `welcome` gave us, presented in the next `hello`. */
  ticket: SessionTicket | undefined;
  /** What plugins are told about the session; a new object when the session changes. */
  ctx: PluginContext = { side: 'client', sessionId: undefined };
  /**
   * `hello.nonce`: names the session our next `hello` may open, until a `welcome` is applied. A
   * `welcome` lost with its link (or read after the connect deadline) leaves a session on the
   * server we never learnt of; the same nonce on the next `hello` gets that session back
   * instead of a second one beside it.
   */
  private nonce: string | undefined;
  private welcomed: Welcomed | undefined;
  private outcome: WelcomeOutcome | undefined;
  /** When the last connection went down (monotonic): the downtime a resume reports. */
  private downAt = 0;

  constructor(
    private readonly options: ResolvedClientOptions,
    private readonly host: HandshakeHost,
    private readonly transport: HandshakeTransport,
    private readonly wire: Wire,
    private readonly inbox: Inbox,
    private readonly outbox: Outbox,
    private readonly meter: ByteMeter,
  ) {}

  /** The transport's `handshake` hook, once per connection: send `hello`, await `welcome`. */
  readonly run = async (link: HandshakeLink, signal: AbortSignal): Promise<void> => {
    const { auth } = this.options;
    const credentials = typeof auth === 'function' ? await auth() : auth;
    signal.throwIfAborted();
    const ticket = this.ticket;
    const delivered = ticket === undefined ? 0 : this.inbox.presentDelivered();
    const nonce = (this.nonce ??= messageId());
    const hello = jsonCodec.hello(helloFields(credentials, this.options.maxBuffered, ticket, delivered, this.options.codecs, nonce));
    this.meter(0, hello.length);
    link.send(hello);
    const reply = await link.receive();
    this.meter(reply.length, 0);
    let frames: Frame[];
    try {
      frames = jsonCodec.decode(reply);
    } catch (error) {
      throw this.host.reportProtocolError(toProtocolError(error));
    }
    const first = frames[0] as Frame;
    if (first.t === 'bye') {
      if (first.retryMs !== undefined) this.transport.retryAfter(first.retryMs);
      throw closeError(first.code, first.reason);
    }
    if (first.t !== 'welcome') throw this.host.reportProtocolError(new ProtocolError(`expected a welcome frame, got ${first.t}`));
    const codec = codecNamed(first.codec, this.options.codecs);
    if (codec === undefined) throw this.host.reportProtocolError(new ProtocolError(`the server chose the codec ${first.codec}, which this client did not offer`));
    link.useCodec(codec);
    this.welcomed = { frame: first, rest: frames.length > 1 ? frames.slice(1) : [], codec };
  };

  /**
   * The transport's `established` hook: the connection of the last `run` is adopted. Applies its
   * welcome (window, frame bound, codec, resume or new session) and returns the reason of the
   * transition to 'open'.
   */
  readonly establish = (): string => {
    const welcomed = this.welcomed;
    if (welcomed === undefined) return 'connected';
    const w = welcomed.frame;
    const previous = this.ticket;
    this.ticket = { sid: w.sid, token: w.token };
    this.nonce = undefined;
    if (this.ctx.sessionId !== w.sid) this.ctx = { side: 'client', sessionId: w.sid };
    this.wire.established(welcomed.codec, w.max);
    this.outbox.connected(w.win, w.max, welcomed.codec, w.got === true);
    const outcome = reconcile(w, previous, this.outbox, this.inbox);
    this.outcome = outcome;
    return outcome.kind === 'new' ? 'welcome' : outcome.kind === 'resumed' ? 'resumed' : 'session lost';
  };

  /**
   * The state is 'open': tell plugins and listeners how the session came back, and hand over the
   * frames batched with the welcome (to be dispatched in order, as if each had come alone).
   */
  announce(): readonly Frame[] {
    const welcomed = this.welcomed;
    const outcome = this.outcome;
    this.welcomed = undefined;
    this.outcome = undefined;
    if (welcomed === undefined || outcome === undefined) return [];
    if (outcome.kind !== 'new') {
      const at = this.options.now();
      const { plugins } = this.host;
      if (plugins.active) {
        const replayed = outcome.kind === 'resumed' ? outcome.replayed : outcome.unknown;
        plugins.onResume({ resumed: outcome.kind === 'resumed', replayed, downtimeMs: at - this.downAt, at }, this.ctx);
        if (outcome.kind === 'lost') plugins.onSessionLost({ unknown: outcome.unknown, at }, this.ctx);
      }
      if (outcome.kind === 'resumed') this.host.resumed({ replayed: outcome.replayed });
      else this.host.sessionLost({ unknown: outcome.unknown, ids: outcome.ids });
    }
    return welcomed.rest;
  }

  /** The connection went down at `at` (monotonic). */
  down(at: number): void {
    this.downAt = at;
  }
}
