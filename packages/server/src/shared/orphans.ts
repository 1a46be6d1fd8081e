import { now as monotonic } from '@lifeline/protocol/internal';
import type { SessionEngine, StoredOutcome } from '../engine/engine-sessions.js';

/** Most claims a node keeps to settle, and most characters of outcomes among them. */
const MAX_ORPHANS = 10_000;
const MAX_ORPHAN_CHARS = 16 * 1024 * 1024;
/** Retries: from this, doubling, at most `MAX_RETRY_MS` apart. */
const FIRST_RETRY_MS = 50;
const MAX_RETRY_MS = 2_000;
/** Most engine calls this makes at once. */
const MAX_CALLS = 32;

interface Orphan {
  readonly sid: string;
  readonly seq: number;
  /** Handled here, its `complete` failed: stored again. Undefined: its handler never ran here, the claim is released. */
  readonly outcome: StoredOutcome | undefined;
  /** Monotonic ms past which the session's keys are gone anyway. */
  readonly deadline: number;
  tries: number;
  nextAt: number;
  calling: boolean;
}

/** What `take` finds: a claim to settle now, `'calling'` while the engine is being told (or it must be left alone), or undefined. */
export type Taken = { readonly outcome: StoredOutcome | undefined } | 'calling' | undefined;

/**
 * Claims this node holds in the engine that no handler of its will complete (guarantee 10).
 * An engine call can fail on the node (a command timeout) and still be carried out by the
 * engine later: a `claim` queued behind a silence leaves a claim whose handler never ran here,
 * a `complete` that did not run leaves one whose outcome is known here only. Other nodes see
 * either as running on a live node and wait, and the session (handled in order) stalls. So
 * each is remembered, bounded in count, characters and time (the session's TTL: its keys are
 * gone after), and settled once the engine answers again: released, or completed with the
 * outcome, retried with backoff. A Redis connection runs commands in the order they were sent
 * (ioredis resends unanswered ones first after a reconnection), so a release sent after the
 * failed claim runs after it.
 *
 * It also counts which (session, seq) this node is working on now, so that a claim the engine
 * says this node holds is known to be running here, or an orphan to take back.
 */
export class Orphans {
  private readonly orphans = new Map<string, Orphan>();
  private readonly working = new Map<string, number>();
  /** Handled here, its outcome dropped unstored (a bound): never taken back to run again, oldest forgotten first. */
  private readonly dropped = new Set<string>();
  private chars = 0;
  private calls = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  constructor(
    private readonly engine: SessionEngine,
    private readonly node: string,
    private readonly ttlMs: number,
    private readonly reportError: (error: unknown) => void,
  ) {}

  /** Claims waiting to be settled. */
  get size(): number {
    return this.orphans.size;
  }

  /** This node starts working on `seq` of `sid` (claim, handler, complete); returns the key for `leave`. */
  enter(sid: string, seq: number): string {
    const key = keyOf(sid, seq);
    this.working.set(key, (this.working.get(key) ?? 0) + 1);
    return key;
  }

  leave(key: string): void {
    const n = (this.working.get(key) ?? 1) - 1;
    if (n <= 0) this.working.delete(key);
    else this.working.set(key, n);
  }

  /** Another loop of this node works on `key` besides the caller (a copy of the session here whose handler still runs). */
  othersWorking(key: string): boolean {
    return (this.working.get(key) ?? 0) > 1;
  }

  /**
   * The `claim` of `seq` failed here (the engine may hold it for this node anyway), or a claim of
   * a batch is left unrun (its connection or session left this node, or the batch's engine call
   * failed): released unless a loop here works on it.
   */
  claimFailed(sid: string, seq: number): void {
    const key = keyOf(sid, seq);
    // A handler of this node ran it (its outcome waits here, or was dropped): never released for another run.
    if (this.working.has(key) || this.orphans.has(key) || this.dropped.has(key)) return;
    this.add(key, sid, seq, undefined);
  }

  /** Handled here, its `complete` failed: the outcome is stored again until the engine answers. */
  completeFailed(sid: string, seq: number, outcome: StoredOutcome): void {
    const key = keyOf(sid, seq);
    const old = this.orphans.get(key);
    if (old !== undefined) this.remove(key, old);
    this.add(key, sid, seq, outcome);
  }

  /** A claim the engine says this node holds and no loop here works on: settle it now, in the caller's loop. */
  take(key: string): Taken {
    const o = this.orphans.get(key);
    if (o === undefined) return this.dropped.has(key) ? 'calling' : undefined;
    if (o.calling) return 'calling';
    this.remove(key, o);
    return { outcome: o.outcome };
  }

  /** The node leaves: what is left is taken over by the other nodes once this one's heartbeat is gone. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.orphans.clear();
    this.dropped.clear();
    this.chars = 0;
  }

  private add(key: string, sid: string, seq: number, outcome: StoredOutcome | undefined): void {
    if (this.stopped) return;
    const at = monotonic();
    const size = outcome?.data.length ?? 0;
    while (this.orphans.size > 0 && (this.orphans.size >= MAX_ORPHANS || this.chars + size > MAX_ORPHAN_CHARS)) {
      const [oldestKey, oldest] = this.orphans.entries().next().value as [string, Orphan];
      this.drop(oldestKey, oldest, `more than ${MAX_ORPHANS} claims or ${MAX_ORPHAN_CHARS} characters of outcomes wait to be settled`);
    }
    this.orphans.set(key, { sid, seq, outcome, deadline: at + this.ttlMs, tries: 0, nextAt: at, calling: false });
    this.chars += size;
    this.schedule(0);
  }

  private remove(key: string, o: Orphan): void {
    if (this.orphans.get(key) !== o) return;
    this.orphans.delete(key);
    this.chars -= o.outcome?.data.length ?? 0;
  }

  private drop(key: string, o: Orphan, why: string): void {
    this.remove(key, o);
    if (o.outcome !== undefined) {
      if (this.dropped.size >= MAX_ORPHANS) this.dropped.delete(this.dropped.values().next().value as string);
      this.dropped.add(key);
    }
    const what = o.outcome === undefined ? 'released' : 'completed';
    this.reportError(new Error(`session ${o.sid}: the claim on message ${o.seq} was not ${what} (${why}); the session may stall on it until this node leaves or the session expires`));
  }

  private schedule(delayMs: number): void {
    if (this.stopped || this.timer !== undefined || this.orphans.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.tick();
    }, delayMs);
    this.timer.unref?.();
  }

  private tick(): void {
    const at = monotonic();
    let next = Infinity;
    for (const [key, o] of [...this.orphans]) {
      if (o.calling) continue;
      if (at >= o.deadline) {
        this.drop(key, o, "the engine did not answer within the session's TTL");
        continue;
      }
      if (o.nextAt > at) {
        next = Math.min(next, o.nextAt - at);
        continue;
      }
      // Each call in flight schedules a tick when it ends.
      if (this.calls >= MAX_CALLS) continue;
      if (o.outcome === undefined && this.working.has(key)) {
        // A loop here claims it now: that loop takes it back or waits for it (releasing it under a running handler would let it run twice).
        this.remove(key, o);
        continue;
      }
      void this.settle(key, o);
    }
    // Calls in flight reschedule when they end.
    if (next !== Infinity) this.schedule(Math.max(next, 10));
  }

  private async settle(key: string, o: Orphan): Promise<void> {
    o.calling = true;
    this.calls++;
    try {
      if (o.outcome === undefined) await this.engine.release(o.sid, o.seq, this.node);
      else await this.engine.complete(o.sid, o.seq, this.node, o.outcome);
      // Whatever the answer: released, stored, or no longer this node's (completed, taken over, expired).
      this.remove(key, o);
    } catch {
      // The engine still does not answer (each failure was reported where the call was first made).
      o.tries++;
      o.nextAt = monotonic() + Math.min(FIRST_RETRY_MS * 2 ** o.tries, MAX_RETRY_MS);
    } finally {
      o.calling = false;
      this.calls--;
      this.schedule(10);
    }
  }
}

/** Seq first: a session id may hold any character. */
function keyOf(sid: string, seq: number): string {
  return `${seq} ${sid}`;
}
