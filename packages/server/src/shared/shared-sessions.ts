import { CloseCode } from '@lifeline/protocol';
import type { SessionLimits } from '../engine/engine-sessions.js';
import type { ResolvedOptions } from '../options.js';
import type { SessionImpl, SessionLifecycle } from '../session.js';
import type { SessionStore } from '../store.js';
import type { SharedNode } from './node.js';

/** The engine keys of a session live at least this long, so its holder need not touch it often. */
const MIN_TTL_MS = 30_000;
/** Most engine calls the touch sweep makes at once. */
const SWEEP_BATCH = 64;

/** On the shared path the engine is the store: the registry's mirror writes go nowhere. */
export const noStore: SessionStore = {
  get: () => undefined,
  set: () => {},
  delete: () => {},
};

/** What every session is created with in the engine, from the server's options. */
export function sharedLimits(o: Pick<ResolvedOptions, 'resumeWindowMs' | 'maxInFlight' | 'maxResultCacheBytes' | 'maxQueued'>): SessionLimits {
  return {
    ttlMs: Math.max(o.resumeWindowMs, MIN_TTL_MS),
    results: o.maxInFlight,
    resultChars: Math.max(1, o.maxResultCacheBytes),
    pushes: o.maxQueued.messages,
    pushChars: o.maxQueued.bytes,
  };
}

/**
 * The sessions this node holds, kept in step with the engine (guarantee 10): a detach or an end
 * here is written there, each held session's keys are touched well within their TTL, and a
 * session the engine says another node holds now (a notice, or the sweep when a notice was
 * lost) ends here as `moved`, closing its connection: a node never goes on serving a session it
 * no longer holds. Every engine failure is reported, never thrown.
 */
export class SharedSessions implements SessionLifecycle {
  private timer: ReturnType<typeof setInterval> | undefined;
  private sweeping = false;
  /** Engine writes in progress (a shutdown waits for them, bounded). */
  private readonly writes = new Set<Promise<unknown>>();

  constructor(
    private readonly node: SharedNode,
    private readonly sessions: ReadonlyMap<string, SessionImpl>,
    private readonly limits: SessionLimits,
    private readonly options: Pick<ResolvedOptions, 'resumeWindowMs' | 'now' | 'overloadRetryMs'>,
    private readonly local: SessionLifecycle,
    private readonly reportError: (error: unknown) => void,
  ) {}

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.sweep(), Math.min(Math.floor(this.limits.ttlMs / 3), 10_000));
    this.timer.unref?.();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Resolves when the engine writes in progress are done (never rejects). */
  settled(): Promise<void> {
    return Promise.all([...this.writes]).then(() => undefined);
  }

  attached(session: SessionImpl): void {
    this.local.attached(session);
  }

  detached(session: SessionImpl): void {
    this.local.detached(session);
    // After this turn: a resume on this node closes the old connection and attaches the new one
    // in the same turn, and the engine (rotated already) must not be told the session let go.
    queueMicrotask(() => {
      if (session.state !== 'detached') return;
      this.write(this.node.engine.sessions.detach(session.id, this.node.id, this.options.now() + this.options.resumeWindowMs));
    });
  }

  ended(session: SessionImpl): void {
    this.local.ended(session);
    const engine = this.node.engine.sessions;
    switch (session.endReason) {
      case 'closed':
      case 'evicted':
      case 'client-closed':
        this.write(engine.end(session.id));
        break;
      case 'server-closed':
        // This node goes away; the session does not: any other node may resume it.
        this.write(engine.detach(session.id, this.node.id, this.options.now() + this.options.resumeWindowMs));
        break;
      default:
        // 'moved' (another node holds it) and 'expired' (the engine's TTL ends it): nothing to write.
        break;
    }
  }

  /** Another node says it took `sid`: checked against the engine (a notice may be stale), then dropped here. */
  moved(sid: string): void {
    const session = this.sessions.get(sid);
    if (session === undefined || session.state === 'closed') return;
    this.node.engine.sessions.get(sid).then((stored) => this.check(session, stored?.holder ?? undefined, stored === undefined), this.reportError);
  }

  private check(session: SessionImpl, holder: string | null | undefined, gone: boolean): void {
    if (session.state === 'closed') return;
    if (gone) {
      session.end('expired', CloseCode.TryAgainLater, { retryMs: this.options.overloadRetryMs }, 'the session is no longer known');
    } else if (holder !== this.node.id && session.state === 'attached') {
      session.end('moved', CloseCode.Replaced, undefined, 'the session was resumed on another node');
    }
  }

  /** Touch every session attached here; drop those another node holds now. */
  private async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const held = [...this.sessions.values()].filter((s) => s.state === 'attached');
      for (let i = 0; i < held.length; i += SWEEP_BATCH) {
        await Promise.all(held.slice(i, i + SWEEP_BATCH).map((s) => this.refresh(s)));
      }
    } finally {
      this.sweeping = false;
    }
  }

  private async refresh(session: SessionImpl): Promise<void> {
    const sessions = this.node.engine.sessions;
    const me = this.node.id;
    try {
      if (sessions.refresh !== undefined) {
        // One engine call per held session and sweep, where a `get` (the whole record) and a
        // `touch` were two Redis round trips for every idle session every 10 s (issue 14).
        const holder = await sessions.refresh(session.id, me);
        if (holder !== me) this.check(session, holder, holder === undefined);
        return;
      }
      const stored = await sessions.get(session.id);
      if (stored !== undefined && stored.holder === me) await sessions.touch(session.id);
      else this.check(session, stored?.holder, stored === undefined);
    } catch (error) {
      this.reportError(error);
    }
  }

  private write(call: Promise<unknown>): void {
    const p = call.then(undefined, this.reportError);
    this.writes.add(p);
    void p.finally(() => this.writes.delete(p));
  }
}
