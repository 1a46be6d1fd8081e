import { CloseCode, type Codec, type MsgFrame, type PluginContext } from '@lifeline/protocol';
import { Fifo, now as monotonic, type PluginHost } from '@lifeline/protocol/internal';
import { AckRun } from '../ack-run.js';
import { MAX_BATCH, type ClaimResult, type DoneMessage, type StoredOutcome } from '../engine/engine-sessions.js';
import { ReadPause, type InboundLink } from '../link.js';
import type { HandlerContext, ResolvedOptions } from '../options.js';
import { errorOutcome, evicted, type Outcome } from '../results.js';
import type { Session } from '../session.js';
import type { SharedEngine } from './node.js';
import { loadOutcome, storeOutcome } from './stored.js';

/** What a session's shared inbound part is given. */
export interface SharedInboundDeps {
  readonly options: Pick<ResolvedOptions, 'handler' | 'maxInFlight' | 'maxInboundBytes' | 'now'>;
  readonly plugins: PluginHost;
  readonly engine: SharedEngine;
  /** This node's id: who holds the claims it makes. */
  readonly node: string;
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
}

/** A handled message whose outcome waits to be recorded with the rest of its batch. */
interface Done extends DoneMessage {
  readonly answer: Outcome;
}

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
 * (`completeThenClaimMany`, else `completeThenClaim`: one message per call). A batch's claims are
 * taken before any of its handlers runs, so a node dying mid-batch has its unrun claims handed
 * over `redelivered` too: the flag says "may have run" (issue 12: one Redis call per message
 * cost ~150 µs of socket writes). Claims are async, so one session's
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
  /** Outcomes handled here whose `complete` failed (the engine was down): stored again on the retransmission. */
  private readonly unstored = new Map<number, StoredOutcome>();
  /** Seqs whose claim call failed (its answer lost): a claim this node holds on them was never handled. */
  private readonly claimedUnrun = new Set<number>();
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
      // Messages claimed together with their predecessors' completes are handled whatever the
      // connection does meanwhile, as one claimed on its own would be. A batch's handlers run one
      // after the other, in seq order; their outcomes are recorded (then answered) together.
      let batch: Ahead[] = [];
      while (batch.length > 0 || (!this.ended && this.link?.writable !== false)) {
        if (batch.length === 0) {
          const f = this.take();
          if (f === undefined) break;
          batch = [{ f, claim: undefined }];
        }
        for (let i = 0; i < batch.length; i++) {
          const a = batch[i] as Ahead;
          if (!(await this.process(a.f, this.link, a.claim))) {
            // The engine failed: the claims made for the rest were never handled.
            for (const rest of batch.slice(i + 1)) if (rest.claim?.status === 'claimed') this.claimFailed(rest.f.seq);
            break;
          }
        }
        batch = (await this.store()) ?? [];
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
   * One message, from its claim (made here, or `claimed` with its predecessor's complete) to its
   * answer; `link` is the connection it came on. Resolves the next message when its claim was
   * made with this one's complete.
   */
  private async process(f: MsgFrame, link: InboundLink | undefined, claimed?: ClaimResult): Promise<boolean> {
    const { engine, node } = this.deps;
    let claim: ClaimResult | undefined = claimed;
    for (let pollMs = 25; claim === undefined || claim.status === 'running-elsewhere'; pollMs = Math.min(pollMs * 2, MAX_POLL_MS)) {
      if (claim !== undefined) {
        const mine = claim.node === node;
        // Ours, handled already but not recorded (the engine was down): record it now.
        const unstored = mine ? this.unstored.get(f.seq) : undefined;
        if (unstored !== undefined) return this.hold(f.seq, unstored);
        // Ours, claimed by a call whose answer was lost (the engine failed): never handled, so handled now.
        if (mine && this.claimedUnrun.delete(f.seq)) {
          claim = { status: 'claimed', redelivered: false };
          break;
        }
        // Running on another node (or on a copy of this session here that was dropped): its
        // outcome comes when it completes, or the claim is taken over once that node is dead.
        // What this node handled meanwhile is recorded and answered first.
        if (this.done.length > 0 && (await this.store(false)) === undefined) return false;
        await new Promise((resolve) => setTimeout(resolve, pollMs));
        if (this.ended || this.link !== link) return true;
      }
      try {
        claim = await engine.sessions.claim(this.sid, f.seq, f.id, node);
      } catch (error) {
        this.claimFailed(f.seq);
        this.deps.engineFailed(error);
        return false;
      }
    }
    switch (claim.status) {
      case 'unknown-session':
        this.deps.sessionGone();
        return true;
      case 'duplicate':
        this.answerDuplicate(f.seq, claim.outcome === undefined ? evicted(this.codec) : loadOutcome(this.codec, claim.outcome));
        return true;
      case 'lost': {
        // Its handler ran on two nodes that both died: its effect is unknown, and it is not run a third time.
        const lost = errorOutcome(this.codec, Object.assign(new Error(`message ${f.id}: its handler was interrupted twice by nodes that died; its effect is unknown`), { code: 'ERR_HANDLER_LOST' }));
        return this.hold(f.seq, storeOutcome(this.codec, lost), lost);
      }
      case 'claimed': {
        this.claimedUnrun.delete(f.seq);
        if (f.seq > this.accepted) this.accepted = f.seq;
        const outcome = await this.handle(f, claim.redelivered);
        return this.hold(f.seq, storeOutcome(this.codec, outcome), outcome);
      }
    }
  }

  /**
   * Holds a handled message's outcome for its batch's engine call (made at once past
   * `MAX_BATCH_CHARS`). A batch has at most `MAX_BATCH` messages, so `done` never holds more.
   */
  private async hold(seq: number, stored: StoredOutcome, outcome: Outcome = loadOutcome(this.codec, stored)): Promise<boolean> {
    this.done.push({ seq, outcome: stored, answer: outcome });
    this.doneChars += stored.data.length;
    if (this.done.length <= MAX_BATCH && this.doneChars <= MAX_BATCH_CHARS) return true;
    return (await this.store(false)) !== undefined;
  }

  /**
   * Record the held outcomes, then answer them: never the other way round. When messages are
   * queued (and the engine can), they are claimed in the same engine call: the batch the loop
   * handles next. Resolves undefined when the engine failed.
   */
  private async store(claimNext = true): Promise<Ahead[] | undefined> {
    const { engine, node } = this.deps;
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
      for (const d of done) if (this.unstored.size < this.deps.options.maxInFlight) this.unstored.set(d.seq, d.outcome);
      // The next messages go with this connection; the client sends them again.
      for (const f of next) this.claimFailed(f.seq);
      this.deps.engineFailed(error);
      return undefined;
    }
    done.forEach((d, i) => {
      this.unstored.delete(d.seq);
      // Not kept: the claim was taken over (this node was thought dead); the other run answers.
      if (kept[i] === true) this.answer(d.seq, d.answer);
    });
    return next.map((f, i) => ({ f, claim: claims[i] }));
  }

  /** A call that may have claimed `seq` failed: if the engine says this node holds it, it was never handled. */
  private claimFailed(seq: number): void {
    if (this.claimedUnrun.size < this.deps.options.maxInFlight) this.claimedUnrun.add(seq);
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

