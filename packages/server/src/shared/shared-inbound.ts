import { CloseCode, type Codec, type MsgFrame, type PluginContext } from '@lifeline/protocol';
import { Fifo, now as monotonic, type PluginHost } from '@lifeline/protocol/internal';
import { AckRun } from '../ack-run.js';
import { MAX_BATCH, type ClaimResult, type DoneMessage, type StoredOutcome } from '../engine/engine-sessions.js';
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

/** A message to handle, and its claim when it was made in the same engine call as its predecessors' completes. */
interface Ahead {
  readonly f: MsgFrame;
  readonly claim: ClaimResult | undefined;
  /** Its key in the node's tracker of what it works on (`Orphans.enter`), entered before its claim's call went out. */
  readonly key: string;
}

/** A handled message whose outcome waits to be recorded with the rest of its batch. */
interface Done extends DoneMessage {
  readonly answer: Outcome;
  /** Its tracker key, left once the outcome is recorded (or handed to the orphans). */
  readonly key: string;
}

/** A `claim` (or `release`) call failed: the engine may hold the claim for this node all the same. */
const CLAIM_FAILED = Symbol('claim failed');

/** What one message came to: its outcome held for the batch's call, nothing held here, another engine call failed, or `CLAIM_FAILED`. */
type Step = 'held' | 'none' | 'failed' | typeof CLAIM_FAILED;

/** Characters of outcomes held for one engine call: past this, they are recorded at once. */
const MAX_BATCH_CHARS = 1 << 20;

/** Polls of a claim running on another node: from 25 ms, doubling, at most this far apart. */
const MAX_POLL_MS = 500;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';
}

/**
 * Client → server on a shared engine (guarantee 10): each message is `claim`ed in the engine
 * before its handler runs and `complete`d after, so no id is handed to a handler twice across
 * nodes; a duplicate is answered from the stored outcome. While messages are queued, the
 * completes of a batch and the claims of the next (up to `MAX_BATCH`) go in one call
 * (`completeThenClaimMany`, else `completeThenClaim`: one message per call; issue 12: one Redis
 * call per message cost ~150 µs of socket writes), and that call goes out while the batch
 * before it runs (one call out ahead). A batch's claims are taken before any of its handlers
 * runs: a node dying mid-batch has its unrun claims (two batches at most) handed over
 * `redelivered` too (the flag says "may have run"); a connection or session leaving this node
 * releases them instead.
 * Calls that fail are settled by the node's `Orphans` (failed claims released, outcomes stored
 * again). Claims are async, so one session's messages go through one loop, in seq order, while
 * other sessions run theirs at the same time.
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
  /** Handled, not yet recorded nor answered: recorded in one engine call with the next batch's claims. */
  private done: Done[] = [];
  private doneChars = 0;

  constructor(
    private readonly sid: string,
    private readonly session: Session,
    private readonly pluginContext: PluginContext,
    private readonly codec: Codec,
    private readonly deps: SharedInboundDeps,
  ) {
    this.acks = new AckRun(codec, this);
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

  /** The loop is running: an ack it gives joins the run (`AckRun`). */
  get answering(): boolean {
    return this.running;
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
    /** A batch's engine call still out: it records the batch before, and claims the batch after the one running. */
    let ahead: { readonly call: Promise<Ahead[] | undefined>; readonly link: InboundLink | undefined } | undefined;
    /** An engine call failed: what later calls claimed is let go, never run out of seq order. */
    let broken = false;
    try {
      // A batch's handlers run one after the other, in seq order; their outcomes are recorded
      // (then answered) together, in the call that claims a later batch. While a batch's
      // handlers run, the call that claimed the batch after it is already out: Redis and this
      // node work at the same time (issue 12: one call at a time left both idle half the time).
      let batch: Ahead[] = [];
      /** The connection the batch was claimed for. */
      let link = this.link;
      while (batch.length > 0 || ahead !== undefined || (!this.ended && this.link?.writable !== false)) {
        if (batch.length === 0 && ahead === undefined) {
          // Every call of the failed pipeline is settled: a new message starts afresh, as before it.
          broken = false;
          const f = this.take();
          if (f === undefined) break;
          link = this.link;
          batch = [{ f, claim: undefined, key: this.deps.orphans.enter(this.sid, f.seq) }];
        }
        let failed = broken;
        for (const a of batch) {
          // The engine failed, or the connection (or the session) left this node: the fresh
          // claims not run yet are released, so whichever node gets the retransmission runs
          // them unflagged instead of waiting on this one. A claim taken over (redelivered) or
          // found lost is settled here all the same: released, it would be found lost.
          if ((failed || this.ended || this.link !== link) && this.letGoFresh(a)) continue;
          if (!(await this.process(a, link))) failed = true;
        }
        if (failed) broken = true;
        const call = this.done.length > 0 || (!broken && this.queue.length > 0) ? { call: this.store(!broken), link: this.link } : undefined;
        // The call out ahead claimed the next batch; the one just made stays out in its place.
        let mine = call;
        if (ahead !== undefined) [mine, ahead] = [ahead, call];
        if (mine === undefined) {
          batch = [];
          continue;
        }
        const next = await mine.call;
        if (next === undefined) broken = true;
        link = mine.link;
        batch = next ?? [];
        // Claim the batch after this one now, so that call runs while this one's handlers do.
        if (ahead === undefined && !broken && batch.length > 0 && this.queue.length > 0 && !this.ended && this.link?.writable !== false) {
          ahead = { call: this.store(), link: this.link };
        }
      }
    } catch (error) {
      this.deps.reportError(error);
      // What the call still out claims is not run here.
      void ahead?.call.then((claimed) => claimed?.forEach((a) => this.letGoFresh(a)));
    } finally {
      this.running = false;
      if (this.idle || this.ended) this.notifyIdle();
    }
  }

  /** Lets `a` go when its claim is fresh (not taken over, not lost): true when it did. */
  private letGoFresh(a: Ahead): boolean {
    if (a.claim === undefined || a.claim.status === 'lost' || (a.claim.status === 'claimed' && a.claim.redelivered)) return false;
    this.letGo(a);
    return true;
  }

  /** A message of a batch that is not run here: out of the tracker, its claim (if fresh) released through the orphans. */
  private letGo(a: Ahead): void {
    const orphans = this.deps.orphans;
    orphans.leave(a.key);
    if (a.claim?.status === 'claimed') orphans.claimFailed(this.sid, a.f.seq);
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
   * One message, from its claim (made here, or with its predecessors' completes: `a.claim`) to
   * its outcome, held for its batch's engine call; `link` is the connection it came on. False
   * when an engine call failed. Its key stays in the node's tracker until the outcome is
   * recorded (or handed to the orphans): until then the claim is this node's work.
   */
  private async process(a: Ahead, link: InboundLink | undefined): Promise<boolean> {
    const orphans = this.deps.orphans;
    let step: Step = 'none';
    try {
      step = await this.claimAndHandle(a, link);
    } finally {
      if (step !== 'held') orphans.leave(a.key);
    }
    if (step === CLAIM_FAILED) {
      // The engine may have recorded the claim all the same (a timed-out command still runs): it is released once the engine answers.
      orphans.claimFailed(this.sid, a.f.seq);
      return false;
    }
    if (step !== 'held') return step === 'none';
    if (this.done.length <= MAX_BATCH && this.doneChars <= MAX_BATCH_CHARS) return true;
    return (await this.store(false)) !== undefined;
  }

  private async claimAndHandle(a: Ahead, link: InboundLink | undefined): Promise<Step> {
    const { engine, node, orphans } = this.deps;
    const { f, key } = a;
    let claim = a.claim;
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
        if (typeof taken === 'object' && taken.outcome !== undefined) return this.hold(f.seq, key, taken.outcome);
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
      // What this node handled meanwhile is recorded and answered first.
      if (this.done.length > 0 && (await this.store(false)) === undefined) return 'failed';
      await new Promise((resolve) => setTimeout(resolve, pollMs));
      if (this.ended || this.link !== link) return 'none';
      claim = undefined;
    }
    switch (claim.status) {
      case 'unknown-session':
        this.deps.sessionGone();
        return 'none';
      case 'duplicate':
        this.answerDuplicate(f.seq, claim.outcome === undefined ? evicted(this.codec) : loadOutcome(this.codec, claim.outcome));
        return 'none';
      case 'lost': {
        // Its handler ran on two nodes that both died (or on one, and the node that took it over
        // let go of it without knowing which): its effect is unknown, and it is not run again.
        const lost = errorOutcome(this.codec, Object.assign(new Error(`message ${f.id}: its handler was interrupted by nodes that died and is not handed over again; its effect is unknown`), { code: 'ERR_HANDLER_LOST' }));
        return this.hold(f.seq, key, storeOutcome(this.codec, lost), lost);
      }
      case 'claimed': {
        if (f.seq > this.accepted) this.accepted = f.seq;
        const outcome = await this.handle(f, claim.redelivered);
        return this.hold(f.seq, key, storeOutcome(this.codec, outcome), outcome);
      }
    }
  }

  /** Holds a handled message's outcome for its batch's engine call; a batch has at most `MAX_BATCH` messages. */
  private hold(seq: number, key: string, stored: StoredOutcome, outcome: Outcome = loadOutcome(this.codec, stored)): 'held' {
    this.done.push({ seq, outcome: stored, answer: outcome, key });
    this.doneChars += stored.data.length;
    return 'held';
  }

  /**
   * Record the held outcomes, then answer them: never the other way round. When messages are
   * queued (and the engine can), they are claimed in the same engine call: the batch the loop
   * handles next, each entered in the node's tracker before the call goes out (as one claimed
   * on its own), so that no other copy of the session here releases a claim about to run here.
   * Resolves undefined when the engine failed: each outcome is then stored again by the
   * orphans, and each claim the call may have made released.
   */
  private async store(claimNext = true): Promise<Ahead[] | undefined> {
    const { engine, node, orphans } = this.deps;
    const sessions = engine.sessions;
    const done = this.done;
    this.done = [];
    this.doneChars = 0;
    const many = sessions.completeThenClaimMany !== undefined;
    const next: MsgFrame[] = [];
    if (claimNext && !this.ended && this.link?.writable !== false && (many || (sessions.completeThenClaim !== undefined && done.length === 1))) {
      const most = many ? MAX_BATCH : 1;
      for (let f = next.length < most ? this.take() : undefined; f !== undefined; f = next.length < most ? this.take() : undefined) next.push(f);
    }
    if (done.length === 0 && next.length === 0) return [];
    const keys = next.map((f) => orphans.enter(this.sid, f.seq));
    let kept: readonly boolean[];
    let claims: readonly ClaimResult[] = [];
    try {
      if (many) {
        const r = await (sessions.completeThenClaimMany as NonNullable<typeof sessions.completeThenClaimMany>)(this.sid, node, done, next);
        kept = r.kept;
        claims = r.next;
      } else if (next.length === 1) {
        const d = done[0] as Done;
        const both = await (sessions.completeThenClaim as NonNullable<typeof sessions.completeThenClaim>)(this.sid, d.seq, node, d.outcome, next[0] as MsgFrame);
        kept = [both.kept];
        claims = [both.next];
      } else {
        const each: boolean[] = [];
        for (const d of done) each.push(await sessions.complete(this.sid, d.seq, node, d.outcome));
        kept = each;
      }
    } catch (error) {
      // The claims stay this node's: each outcome is stored once the engine answers (or on the retransmission).
      for (const d of done) {
        orphans.completeFailed(this.sid, d.seq, d.outcome);
        orphans.leave(d.key);
      }
      // The next messages go with this connection (the client sends them again); the claims the
      // engine may have made for them are released, as after a failed `claim`.
      next.forEach((f, i) => {
        orphans.leave(keys[i] as string);
        orphans.claimFailed(this.sid, f.seq);
      });
      this.deps.engineFailed(error);
      return undefined;
    }
    done.forEach((d, i) => {
      orphans.leave(d.key);
      // Not kept: the claim was taken over (this node was thought dead); the other run answers.
      if (kept[i] === true) this.answer(d.seq, d.answer);
    });
    return next.map((f, i) => ({ f, claim: claims[i], key: keys[i] as string }));
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

