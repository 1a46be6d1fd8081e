import { ClosedError, type Json, type PluginContext } from '@lifeline/protocol';
import { SendQueue, now as monotonic } from '@lifeline/protocol/internal';
import type { ServerContext } from './context.js';
import type { SessionCloseReason, SessionImpl } from './session.js';

export type { SendOptions } from '@lifeline/protocol';

/** What a `session.send()` resolves with: the client's `cack` carries no result. */
const NO_RESULT = undefined as unknown as Json;

const closeText: Readonly<Record<SessionCloseReason, string>> = {
  closed: 'the session was closed by the server',
  expired: 'the session expired',
  evicted: 'the session was ended for a newer session of the same identity (maxSessionsPerIdentity)',
  'server-closed': 'the server shut down',
  'client-closed': 'the client ended the session',
};

/**
 * Server → client, at least once and in order (protocol.md, `msg` and `cack`): the shared
 * `SendQueue` plus what is the server's own — the cumulative `cack` that settles every message up
 * to a seq, and the resend after a connection takes the session. Its waiting list is bounded by
 * `maxQueued` a second time, so a client that never acknowledges costs at most twice `maxQueued`
 * plus its window (issue 9). Deadlines share one server-wide timer (`ServerContext.sendDeadlines`).
 */
export class Outbound extends SendQueue {
  private readonly maxInFlight: number;

  constructor(
    private readonly session: SessionImpl,
    ctx: ServerContext,
  ) {
    const o = ctx.options;
    super({
      what: 'session.send()',
      ackTimeoutMs: o.ackTimeoutMs,
      window: o.maxInFlight,
      maxQueued: o.maxQueued,
      maxWaiting: o.maxQueued,
      overflow: o.overflow,
      retransmitSettled: false,
      // Pushes are often fire-and-forget (`session.send(x)` in a listener): a rejection nobody
      // awaits must not end the process. Whoever awaits still gets the error.
      handledRejections: true,
      plugins: ctx.plugins,
      now: monotonic,
      wallClock: o.now,
      deadlines: ctx.sendDeadlines,
    });
    this.maxInFlight = o.maxInFlight;
  }

  protected writable(): boolean {
    const conn = this.session.connection;
    return conn !== undefined && !conn.blocked;
  }

  protected write(frame: string): void {
    this.session.connection?.writer.push(frame);
  }

  protected context(): PluginContext {
    return this.session.pluginContext;
  }

  /**
   * A new connection took the session: everything unacknowledged after `ackSeq` (its cumulative
   * ack) goes again, within its window `win`. Returns how many messages are retransmitted.
   */
  attach(win: number | undefined, ackSeq: number): number {
    this.window = win === undefined ? this.maxInFlight : Math.min(win, this.maxInFlight);
    this.cover(ackSeq);
    const replayed = this.retransmit();
    this.pump();
    return replayed;
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
