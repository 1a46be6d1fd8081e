import { CloseCode, type Codec, type MsgFrame, type PluginContext } from '@lifeline/protocol';
import { Fifo, now as monotonic, type PluginHost } from '@lifeline/protocol/internal';
import { AckRun } from '../ack-run.js';
import type { ClaimResult, StoredOutcome } from '../engine/engine-sessions.js';
import { ReadPause, type InboundLink } from '../link.js';
import type { HandlerContext, ResolvedOptions } from '../options.js';
import { errorOutcome, evicted, type Outcome } from '../results.js';
import type { Session } from '../session.js';
import type { SharedEngine } from './node.js';
import type { Orphans } from './orphans.js';
import { loadOutcome, storeOutcome } from './stored.js';

/** What a session's shared inbound part is given. */
export interface SharedInboundDeps {
  readonly options: Pick<ResolvedOptions, 'handler' | 'maxInFlight' | 'maxInboundBytes' | 'now'>;
  readonly plugins: PluginHost;
  readonly engine: SharedEngine;
  /** This node's id: who holds the claims it makes. */
  readonly node: string;
  /** The node's claims that no handler of its will complete (a failed claim or complete call). */
  readonly orphans: Orphans;
  closing(): boolean;
  reportError(error: unknown): void;
  /** An engine call failed: the connection is told to come back later (1013); nothing unrecorded was answered. */
  engineFailed(error: unknown): void;
  /** The engine no longer knows the session (ended elsewhere, expired, or its data was lost). */
  sessionGone(): void;
}

/** A message claimed in the same engine call as its predecessor's complete. */
interface Ahead {
  readonly f: MsgFrame;
  readonly claim: ClaimResult;
  /** Its key in the node's tracker of what it works on (`Orphans.enter`), entered before that call. */
  readonly key: string;
}

/** A `claim` call failed: the engine may hold the claim for this node all the same. */
const CLAIM_FAILED = Symbol('claim failed');

/** Polls of a claim running on another node: from 25 ms, doubling, at most this far apart. */
const MAX_POLL_MS = 500;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';
}

/**
 * Client → server on a shared engine (guarantee 10): each message is `claim`ed in the engine
 * before its handler runs and `complete`d after, so no id is handed to a handler twice across
 * nodes; a duplicate is answered from the stored outcome. While messages are queued, a complete
 * and the next claim go in one call (`completeThenClaim`): one round trip per message. Claims are async, so one session's
 * messages go through one loop, in seq order, while other sessions run theirs at the same time.
 * The same bounds as the in-process `Inbound`: the window in messages, `maxInboundBytes` in bytes.
 */
export class SharedInbound {
  readonly acks: AckRun;
  private accepted = 0;
  private readonly queue = new Fifo<MsgFrame>();
  private readonly costs = new Fifo<number>();
  private queuedBytes = 0;
  /** The loop is running (awaiting the engine or a handler). */
  private running = false;
  private ended = false;
  private idleWaiters: (() => void)[] = [];
  private link: InboundLink | undefined;
  private duplicatesAnswered = 0;

  constructor(
    private readonly sid: string,
    private readonly session: Session,
    private readonly pluginContext: PluginContext,
    private readonly codec: Codec,
    private readonly deps: SharedInboundDeps,
  ) {
    this.acks = new AckRun(codec, () => this.running);
  }

  /** Highest client seq claimed, as the engine said at the last resume and as claimed here since. */
  get acceptedSeq(): number {
    return this.accepted;
  }

  /** The engine's accepted mark (a resume read it): `welcome.seq`. */
  adoptAccepted(seq: number): void {
    if (seq > this.accepted) this.accepted = seq;
  }

  attach(link: InboundLink): void {
    this.link = link;
    this.duplicatesAnswered = 0;
  }

  /** The connection is gone: what waited is dropped, the client retransmits it on the next connection. */
  detach(): void {
    this.link = undefined;
    this.acks.clear();
    this.dropQueue();
  }

  receive(f: MsgFrame, wallAt: number, at: number, bytes: number): void {
    const plugins = this.deps.plugins;
    if (plugins.active) plugins.onReceive({ id: f.id, seq: f.seq, sentAt: f.ts, wallAt, at, duplicate: f.seq <= this.accepted }, this.pluginContext);
    if (this.ended || this.deps.closing()) return;
    const max = this.deps.options.maxInFlight;
    if ((this.running ? 1 : 0) + this.queue.length + 1 > max) {
      this.link?.fail(CloseCode.BadFrame, `more than ${max} messages without an ack: the client broke the window (welcome.win)`);
      return;
    }
    this.queue.push(f);
    this.costs.push(bytes);
    this.queuedBytes += bytes;
    if (this.queuedBytes > this.deps.options.maxInboundBytes) this.link?.pauseReading(ReadPause.Queued);
    if (!this.running) void this.run();
  }

  get idle(): boolean {
    return !this.running && this.queue.length === 0;
  }

  whenIdle(): Promise<void> {
    if (this.idle || this.ended) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** The local copy ended: nothing more is handled or answered here (a running handler's outcome is still stored). */
  end(): void {
    this.ended = true;
    this.dropQueue();
    this.acks.clear();
    this.notifyIdle();
  }

  /** The socket drained: the loop goes on. */
  drain(): void {
    if (!this.running && this.queue.length > 0) void this.run();
  }

  private dropQueue(): void {
    this.queue.clear();
    this.costs.clear();
    this.queuedBytes = 0;
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      // A message claimed together with its predecessor's complete is handled whatever the
      // connection does meanwhile, as one claimed on its own would be.
      let ahead: Ahead | undefined;
      while (ahead !== undefined || (!this.ended && this.link?.writable !== false)) {
        const f = ahead?.f ?? this.take();
        if (f === undefined) break;
        ahead = await this.process(f, this.link, ahead);
      }
    } catch (error) {
      this.deps.reportError(error);
    } finally {
      this.running = false;
      if (this.idle || this.ended) this.notifyIdle();
    }
  }

  /** The next queued message, out of the queue (its bytes no longer count). */
  private take(): MsgFrame | undefined {
    const f = this.queue.shift();
    if (f === undefined) return undefined;
    this.queuedBytes -= this.costs.shift() as number;
    if (this.queuedBytes <= this.deps.options.maxInboundBytes / 2) this.link?.resumeReading(ReadPause.Queued);
    return f;
  }

  /**
   * One message, from its claim (made here, or with its predecessor's complete: `ahead`) to its
   * answer; `link` is the connection it came on. Resolves the next message when its claim was
   * made with this one's complete.
   */
  private async process(f: MsgFrame, link: InboundLink | undefined, ahead?: Ahead): Promise<Ahead | undefined> {
    const orphans = this.deps.orphans;
    const key = ahead?.key ?? orphans.enter(this.sid, f.seq);
    let done: Ahead | undefined | typeof CLAIM_FAILED;
    try {
      done = await this.claimAndHandle(f, link, key, ahead?.claim);
    } finally {
      orphans.leave(key);
    }
    if (done !== CLAIM_FAILED) return done;
    // The engine may have recorded the claim all the same (a timed-out command still runs): it is released once the engine answers.
    orphans.claimFailed(this.sid, f.seq);
    return undefined;
  }

  /** `CLAIM_FAILED` when a `claim` (or `release`) call failed: the engine may hold a claim of this node for `f`. */
  private async claimAndHandle(f: MsgFrame, link: InboundLink | undefined, key: string, claimed: ClaimResult | undefined): Promise<Ahead | undefined | typeof CLAIM_FAILED> {
    const { engine, node, orphans } = this.deps;
    let claim = claimed;
    let retaken = false;
    for (let pollMs = 25; ; pollMs = Math.min(pollMs * 2, MAX_POLL_MS)) {
      if (claim === undefined) {
        try {
          claim = await engine.sessions.claim(this.sid, f.seq, f.id, node);
        } catch (error) {
          this.deps.engineFailed(error);
          return CLAIM_FAILED;
        }
      }
      if (claim.status !== 'running-elsewhere') break;
      // Held by this node, and no loop here works on it (one that does answers when it completes).
      if (claim.node === node && !orphans.othersWorking(key)) {
        const taken = orphans.take(key);
        // Handled here already but not recorded (the engine was down): record it now.
        if (typeof taken === 'object' && taken.outcome !== undefined) return this.store(f.seq, taken.outcome);
        // Its handler never ran (this node's claim call failed, yet the engine recorded it): let
        // it go and claim again, here or on whichever node gets it first. Once per message.
        if (taken !== 'calling' && !retaken) {
          retaken = true;
          try {
            await engine.sessions.release(this.sid, f.seq, node);
          } catch (error) {
            this.deps.engineFailed(error);
            return CLAIM_FAILED;
          }
          claim = undefined;
          continue;
        }
      }
      // Running on another node (or on a copy of this session here that was dropped): its
      // outcome comes when it completes, or the claim is taken over once that node is dead.
      await new Promise((resolve) => setTimeout(resolve, pollMs));
      if (this.ended || this.link !== link) return undefined;
      claim = undefined;
    }
    switch (claim.status) {
      case 'unknown-session':
        this.deps.sessionGone();
        return undefined;
      case 'duplicate':
        this.answerDuplicate(f.seq, claim.outcome === undefined ? evicted(this.codec) : loadOutcome(this.codec, claim.outcome));
        return undefined;
      case 'lost': {
        // Its handler ran on two nodes that both died (or on one, and the node that took it over
        // let go of it without knowing which): its effect is unknown, and it is not run again.
        const lost = errorOutcome(this.codec, Object.assign(new Error(`message ${f.id}: its handler was interrupted by nodes that died and is not handed over again; its effect is unknown`), { code: 'ERR_HANDLER_LOST' }));
        return this.store(f.seq, storeOutcome(this.codec, lost), lost);
      }
      case 'claimed': {
        if (f.seq > this.accepted) this.accepted = f.seq;
        const outcome = await this.handle(f, claim.redelivered);
        return this.store(f.seq, storeOutcome(this.codec, outcome), outcome);
      }
    }
  }

  /**
   * Record the outcome, then answer it: never the other way round. When the next message is
   * queued (and the engine can), it is claimed in the same engine call and resolved.
   */
  private async store(seq: number, stored: StoredOutcome, outcome: Outcome = loadOutcome(this.codec, stored)): Promise<Ahead | undefined> {
    const { engine, node, orphans } = this.deps;
    const next = engine.sessions.completeThenClaim !== undefined && !this.ended && this.link?.writable !== false ? this.take() : undefined;
    // The next message counts as worked on here from before its claim is sent, as one claimed on its own.
    const nextKey = next === undefined ? undefined : orphans.enter(this.sid, next.seq);
    let kept: boolean;
    let ahead: Ahead | undefined;
    try {
      if (next === undefined || nextKey === undefined) {
        kept = await engine.sessions.complete(this.sid, seq, node, stored);
      } else {
        const both = await (engine.sessions.completeThenClaim as NonNullable<typeof engine.sessions.completeThenClaim>)(this.sid, seq, node, stored, next);
        kept = both.kept;
        ahead = { f: next, claim: both.next, key: nextKey };
      }
    } catch (error) {
      // The claim stays this node's: the outcome is stored once the engine answers (or on the retransmission).
      orphans.completeFailed(this.sid, seq, stored);
      if (next !== undefined && nextKey !== undefined) {
        // The next message goes with this connection (the client sends it again); the claim the
        // engine may have made for it is released, as after a failed `claim`.
        orphans.leave(nextKey);
        orphans.claimFailed(this.sid, next.seq);
      }
      this.deps.engineFailed(error);
      return undefined;
    }
    // Not kept: the claim was taken over (this node was thought dead); the other run answers.
    if (kept) this.answer(seq, outcome);
    return ahead;
  }

  private async handle(f: MsgFrame, redelivered: boolean): Promise<Outcome> {
    const plugins = this.deps.plugins;
    if (plugins.active) plugins.onDeliver({ id: f.id, seq: f.seq, sentAt: f.ts, wallAt: this.deps.options.now(), at: monotonic() }, this.pluginContext);
    try {
      const ctx: HandlerContext = { session: this.session, id: f.id, seq: f.seq, redelivered };
      let value = this.deps.options.handler(f.d, ctx);
      if (isThenable(value)) value = await value;
      const result = value === undefined || typeof value === 'function' || typeof value === 'symbol' ? null : value;
      try {
        return this.codec.value(result);
      } catch (error) {
        const why = error instanceof Error ? error.message : String(error);
        return errorOutcome(this.codec, new TypeError(`the handler's result cannot be encoded: ${why}`));
      }
    } catch (error) {
      return errorOutcome(this.codec, error);
    }
  }

  private answerDuplicate(seq: number, outcome: Outcome): void {
    if (this.link === undefined || seq <= this.duplicatesAnswered) return;
    this.duplicatesAnswered = seq;
    this.answer(seq, outcome);
  }

  private answer(seq: number, outcome: Outcome): void {
    if (this.ended || this.link === undefined) return;
    this.acks.add(seq, outcome, this.link);
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

