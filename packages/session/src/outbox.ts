import { ClosedError, RemoteError, RESULT_EVICTED, ResultEvictedError, jsonCodec, type Codec, type Json, type MsgFrame, type LifelineError, type PluginContext, type RemoteErrorInfo, type SendOptions } from '@lifeline/protocol';
import { jsonEncoder, type FrameEncoder, type SendLog } from '@lifeline/protocol/internal';
import { SendQueue, type Outgoing, type PluginHost } from '@lifeline/protocol/internal';
import type { OverflowPolicy } from './options.js';
import type { StoreLink, StoredMessage } from './outbox-store.js';

export type { SendOptions } from '@lifeline/protocol';

export interface OutboxConfig {
  ackTimeoutMs: number;
  maxInFlight: number;
  maxQueuedMessages: number;
  maxQueuedBytes: number;
  overflow: OverflowPolicy;
  now: () => number;
  /** The wire the queue writes its `msg` frames to (batched per turn), and its backpressure. */
  wire: FrameSink;
  /** Payloads are encoded with this codec at `send()`: the first the client offers (see `connected`). */
  codec: Codec;
  plugins: PluginHost;
  ctx: () => PluginContext;
  /** The durable outbox, when one is configured (`outbox` option). */
  store: StoreLink | undefined;
}

/** Where the outbox writes: the session's wire, over the transport. */
export interface FrameSink {
  /** Write one frame in the session's codec; it leaves at the end of the turn, batched. */
  push(frame: unknown): void;
  /** Transport backpressure: false stops the pump until the transport's 'drain'. */
  readonly writable: boolean;
}

/**
 * Answers received between two `got` frames: the server's result cache holds at most this many
 * outcomes beyond those still awaited. One `got` per 64 acks costs the wire about 20 bytes per
 * 64 answers; one per answer would put a second frame into every round trip of a caller that
 * sends one message at a time.
 */
export const GOT_EVERY = 64;

/** The waiting list of `overflow: 'wait'` is bounded only by each sender's deadline (see `Outbox`). */
const UNBOUNDED = Object.freeze({ messages: Infinity, bytes: Infinity });

/**
 * The client's send side: the shared `SendQueue` plus what is the client's own — per-message
 * acks (`ack`, `nack` → `RemoteError` / `ResultEvictedError`), zombies (in flight past their
 * deadline) kept until acked, the session-lost restart, and the durable outbox (`StoreLink`
 * keeps each accepted message; `restore` queues what an earlier run left).
 *
 * Unlike the server, the client does not bound its waiting list by `maxQueued` a second time:
 * the senders waiting are the application's own `send()` calls, each bounded by its deadline,
 * and `'wait'` is the backpressure an application awaits (a burst larger than `maxQueued` is
 * meant to wait, not fail). The server bounds its list because one peer that never acks must not
 * make pushes to every session pile up (issue 9).
 */
export class Outbox extends SendQueue {
  /** True while a connection is established: the queue transmits only then. */
  private online = false;
  /**
   * The session's codec, when it is not the one payloads are encoded with (`codec`): the server
   * chose another of those offered. Each transmission then re-encodes its payload (see `frameOf`).
   */
  private other: Codec | undefined;
  /** The server frees outcomes on `got` (`welcome.got`). */
  private gotOffered = false;
  /** The last `got.seq` written on this connection. */
  private gotSent = 0;

  constructor(private readonly config: OutboxConfig) {
    super({
      what: 'send()',
      ackTimeoutMs: config.ackTimeoutMs,
      window: config.maxInFlight,
      maxQueued: { messages: config.maxQueuedMessages, bytes: config.maxQueuedBytes },
      // A large window bounds a count, not bytes: a server that reads and never answers would
      // otherwise hold window × message size of ours on the wire.
      maxInFlightBytes: config.maxQueuedBytes,
      maxWaiting: UNBOUNDED,
      overflow: config.overflow,
      retransmitSettled: true,
      handledRejections: false,
      plugins: config.plugins,
      now: config.now,
      wallClock: Date.now,
      log: config.store === undefined || speaksJson(config.codec) ? config.store : keptAsJson(config.store, config.codec),
      // Encoded once, before the server has named the session's codec: with the client's first
      // choice, the one a server that speaks it takes (protocol.md, "Codecs"). The durable store
      // keeps them as JSON text.
      codec: config.codec,
    });
  }

  protected writable(): boolean {
    return this.online && this.config.wire.writable;
  }

  protected write(frame: unknown): void {
    this.config.wire.push(frame);
  }

  /**
   * A session whose codec is not the payloads' (the server did not take the client's first
   * choice): the payload is decoded from its codec and encoded in the session's, at every
   * transmission. That costs a decode and an encode per `msg`, only on such a session, and keeps
   * every queued payload, the durable store's included, in one encoding whatever a later
   * session chooses.
   */
  protected override frameOf(m: Outgoing): unknown {
    const other = this.other;
    if (other === undefined) return super.frameOf(m);
    return m.encode(other as FrameEncoder<unknown>, recode(m.data, this.config.codec, other), other.value(m.id));
  }

  protected context(): PluginContext {
    return this.config.ctx();
  }

  /**
   * A connection was established: its window is min(maxInFlight, `welcome.win`), its frame limit
   * `welcome.max`, its codec `welcome.codec`.
   */
  connected(win: number, maxFrameBytes: number, codec: Codec, got = false): void {
    this.window = Math.min(this.config.maxInFlight, win);
    this.gotOffered = got;
    // A `got` written on the last connection may have been lost with it: the mark goes again.
    this.gotSent = 0;
    this.maxFrameBytes = maxFrameBytes;
    this.other = sameUnits(codec, this.config.codec) ? undefined : codec;
    this.online = true;
  }

  disconnected(): void {
    this.online = false;
  }

  /**
   * A `got` is due: the mark it carries (`answeredThrough`: those seqs will not be sent again)
   * moved `GOT_EVERY` seqs past the last one written.
   */
  gotDue(): boolean {
    return this.gotOffered && this.answeredThrough - this.gotSent >= GOT_EVERY;
  }

  /** The `got.seq` to write now, if one is due; taking it marks it written. */
  takeGot(): number | undefined {
    return this.gotDue() ? (this.gotSent = this.answeredThrough) : undefined;
  }

  /** Stop taking new messages (`close()` started); those already accepted carry on. */
  closing(): void {
    this.refuseNew(() => new ClosedError('the client is closed'));
  }

  /**
   * An `ack` with a result, or one entry of an `acks` run. Duplicate and late acks are ignored;
   * a zombie's ack only frees its window slot. `at`: when the frame arrived, for plugins (read
   * once for a whole run; 0 without plugins).
   */
  ack(seq: number, result: Json, at: number): void {
    const m = this.inFlight.take(seq);
    if (m !== undefined && m.live) this.answered(m, result, at);
  }

  /**
   * An `ack` with an error: the remote handler threw, or (`ERR_RESULT_EVICTED`) the message was
   * processed earlier and its result is gone, which an app must not read as a failure. `at` as for `ack`.
   */
  nack(seq: number, error: RemoteErrorInfo, at: number): void {
    const m = this.inFlight.take(seq);
    if (m === undefined || !m.live) return;
    const failure = error.code === RESULT_EVICTED ? new ResultEvictedError(error.message) : new RemoteError(error.code, error.message);
    this.answeredWithError(m, failure, error.code, at);
  }

  /**
   * On a new connection, forget the zombies the server never accepted (seq above `acceptedSeq`,
   * the welcome's mark, or all of them when the session was lost). A zombie the server did accept
   * keeps its window slot and is retransmitted to fetch its ack: the server is still holding it
   * (or its outcome), so forgetting it would let the client pass the window (chaos seed 88).
   */
  purgeZombies(acceptedSeq: number): void {
    for (let seq = Math.max(acceptedSeq + 1, this.inFlight.oldest ?? this.nextSeq); seq < this.nextSeq; seq++) {
      if (this.inFlight.get(seq)?.live === false) this.inFlight.take(seq);
    }
  }

  /**
   * Session lost: the new session numbers from 1 again. Messages in flight (outcome unknown) go
   * back to the front of the queue in their order and are sent again under their ids, with new
   * seqs; their `send()` promises stay pending. Returns their ids.
   */
  restartInFlight(): string[] {
    this.gotSent = 0;
    return this.restartSequence().map((m) => m.id);
  }

  /**
   * Messages an earlier run left in the durable outbox: queued ahead of everything, under their
   * ids, each with a fresh `ackTimeoutMs` deadline; `settled` hears each outcome (there is no
   * `send()` caller to tell). They count against no queue bound: they were accepted before.
   */
  restore(messages: readonly StoredMessage[], settled: (id: string, result: Json | undefined, error: LifelineError | undefined) => void): void {
    const at = this.config.now();
    const { codec } = this.config;
    const restored: Outgoing[] = messages.map(({ id, data }) =>
      this.adopt(
        id,
        // The store keeps JSON text; the queue holds payloads in its codec.
        speaksJson(codec) ? data : (recode(data, jsonCodec, codec) as string),
        (result) => settled(id, result, undefined),
        (error) => settled(id, undefined, error as LifelineError),
        at,
      ),
    );
    this.requeueFront(restored);
    this.pump(at);
  }

  /** Reject everything still pending (the client closed) and refuse further sends. */
  closeAll(error: (m: Outgoing) => LifelineError): void {
    this.online = false;
    this.end(error, () => new ClosedError('the client is closed'));
  }
}

/** Whether a codec's payload units are JSON text (the JSON codec, or one that only renames it). */
function speaksJson(codec: Codec): boolean {
  return codec.value === jsonEncoder.value && codec.msg === jsonEncoder.msg;
}

/** Whether two codecs encode payloads alike, so a payload of one goes as it is in the other. */
function sameUnits(a: Codec, b: Codec): boolean {
  return a === b || (speaksJson(a) && speaksJson(b));
}

/** The durable store keeps JSON text (DESIGN.md guarantee 8), whatever codec the queue encodes payloads with. */
function keptAsJson(store: StoreLink, codec: Codec): SendLog {
  return {
    add: (id, unit) => store.add(id, recode(unit, codec, jsonCodec) as string),
    remove: (id) => store.remove(id),
  };
}

/** A payload encoded by `from`, encoded by `to`: read back through `from`'s own decoder, as the `d` of a `msg`. */
function recode(unit: unknown, from: Codec, to: Codec): unknown {
  const frame = from.decode(from.msg(1, from.value('-'), 0, unit))[0] as MsgFrame;
  return to.value(frame.d);
}
