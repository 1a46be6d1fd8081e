import { ClosedError, type Codec, type Json, type PluginContext } from '@lifeline/protocol';
import { SendQueue, now as monotonic, type Deadlines, type Outgoing, type PluginHost, type SendQueueOptions } from '@lifeline/protocol/internal';
import type { OutboundLink } from './link.js';
import { HELLO_WIN_DEFAULT, type ResolvedOptions } from './options.js';
import type { SessionCloseReason } from './session.js';

export type { SendOptions } from '@lifeline/protocol';

/** What a `session.send()` resolves with: the client's `cack` carries no result. */
const NO_RESULT = undefined as unknown as Json;

const closeText: Readonly<Record<SessionCloseReason, string>> = {
  closed: 'the session was closed by the server',
  expired: 'the session expired',
  evicted: 'the session was ended for a newer session of the same identity (maxSessionsPerIdentity)',
  'server-closed': 'the server shut down',
  'client-closed': 'the client ended the session',
  moved: 'the session moved to another node',
};

/** What the server gives each session's outbound queue. */
export interface OutboundDeps {
  readonly options: Pick<ResolvedOptions, 'ackTimeoutMs' | 'maxInFlight' | 'maxQueued' | 'overflow' | 'now'>;
  readonly plugins: PluginHost;
  /** One deadline timer for the pushes of every session; its callback calls `m.queue.expire(m)`. */
  readonly sendDeadlines: Deadlines<Outgoing>;
}

/**
 * The queue options of every session of one server in one codec, made once: they are the same
 * for all, and an object of eleven fields per session is 136 bytes (issue 14).
 */
const optionsOf = new WeakMap<OutboundDeps, Map<Codec, SendQueueOptions>>();

function queueOptions(deps: OutboundDeps, codec: Codec): SendQueueOptions {
  let byCodec = optionsOf.get(deps);
  if (byCodec === undefined) optionsOf.set(deps, (byCodec = new Map()));
  let options = byCodec.get(codec);
  if (options === undefined) {
    const o = deps.options;
    options = {
      what: 'session.send()',
      codec,
      ackTimeoutMs: o.ackTimeoutMs,
      window: o.maxInFlight,
      maxQueued: o.maxQueued,
      maxWaiting: o.maxQueued,
      maxInFlightBytes: o.maxQueued.bytes,
      overflow: o.overflow,
      retransmitSettled: false,
      // Pushes are often fire-and-forget (`session.send(x)` in a listener): a rejection nobody
      // awaits must not end the process. Whoever awaits still gets the error.
      handledRejections: true,
      plugins: deps.plugins,
      now: monotonic,
      wallClock: o.now,
      deadlines: deps.sendDeadlines,
    };
    byCodec.set(codec, options);
  }
  return options;
}

/**
 * Server → client, at least once and in order (protocol.md, `msg` and `cack`): the shared
 * `SendQueue` plus what is the server's own — the cumulative `cack` that settles every message up
 * to a seq, and the resend after a connection takes the session. Payloads are encoded once in the
 * session's codec, each `msg` frame at each transmission. Its waiting list is bounded by
 * `maxQueued` a second time, and the bytes in flight by `maxQueued.bytes`, so a client that never
 * acknowledges costs at most three times `maxQueued.bytes` (issue 9). Deadlines share one
 * server-wide timer (`OutboundDeps.sendDeadlines`).
 */
export class Outbound extends SendQueue {
  private readonly maxInFlight: number;
  /** The connection holding the session; undefined while it is detached. */
  private link: OutboundLink | undefined;

  constructor(
    codec: Codec,
    private readonly pluginContext: PluginContext,
    deps: OutboundDeps,
  ) {
    super(queueOptions(deps, codec));
    this.maxInFlight = deps.options.maxInFlight;
  }

  protected writable(): boolean {
    return this.link?.writable === true;
  }

  protected write(frame: unknown): void {
    this.link?.push(frame);
  }

  protected context(): PluginContext {
    return this.pluginContext;
  }

  /**
   * A new connection took the session: everything unacknowledged after `ackSeq` (its cumulative
   * ack) goes again, within its window `win`. Returns how many messages are retransmitted.
   */
  attach(link: OutboundLink, win: number | undefined, ackSeq: number): number {
    this.link = link;
    this.window = Math.min(win ?? HELLO_WIN_DEFAULT, this.maxInFlight);
    this.cover(ackSeq);
    const replayed = this.retransmit();
    this.pump();
    return replayed;
  }

  /** The connection is gone: nothing is written until the next one attaches. */
  detach(): void {
    this.link = undefined;
  }

  /** The client delivered every message up to `seq`. */
  cack(seq: number): void {
    if (this.cover(seq)) this.pump();
  }

  /** The session ended: every pending send rejects with `ClosedError`. */
  closeAll(reason: SessionCloseReason, closeCode: number | undefined): void {
    const text = closeText[reason];
    this.end(
      (m) => new ClosedError(`session.send() of ${m.id}: ${text}`, { maybeDelivered: m.transmitted, closeCode }),
      () => new ClosedError(`session.send(): ${text}`, { closeCode }),
    );
  }

  /** Settle every message up to `seq`; true when one was. Seqs never sent are vouched for by nothing. */
  private cover(seq: number): boolean {
    const upTo = Math.min(seq, this.nextSeq - 1);
    const at = this.options.plugins.active ? monotonic() : 0;
    let covered = false;
    for (let m = this.inFlight.takeUpTo(upTo); m !== undefined; m = this.inFlight.takeUpTo(upTo)) {
      covered = true;
      // A zombie (past its deadline, already failed) only frees its window slot.
      if (m.live) this.answered(m, NO_RESULT, at);
    }
    return covered;
  }
}
