import { Deadlines, now as monotonic } from '@lifeline/protocol/internal';
import type { ResolvedOptions } from './options.js';
import type { SessionImpl, SessionLifecycle } from './session.js';
import type { SessionRecord, SessionStore } from './store.js';

/** What admission needs to know of the sessions held (limits.ts, `admitSession`). */
export interface SessionCounts {
  readonly size: number;
  /** Sessions of the identity with this hash (counted only when `authenticate` is set). */
  countOf(identityHash: string): number;
  /** The identity's session detached the longest, if any is detached. */
  oldestDetached(identityHash: string): SessionImpl | undefined;
}

/**
 * The live sessions of this process, and their expiry: a detached session ends
 * `resumeWindowMs` after its connection went (session `close` with reason `expired`). All
 * expiries share one timer (protocol `Deadlines`), unref'd. Every change is mirrored to the
 * `SessionStore`, which is what a resume is checked against; the registry keeps each session's
 * record as last written (`SessionImpl.storeRecord`). With `authenticate`, sessions are also
 * indexed by identity hash, for `maxSessionsPerIdentity`.
 */
export class Registry implements SessionCounts, SessionLifecycle {
  readonly sessions = new Map<string, SessionImpl>();
  private readonly byIdentity = new Map<string, Set<SessionImpl>>();
  private readonly expiry: Deadlines<SessionImpl>;
  /** What resumes are checked against: the server's `store`, or without one, these sessions' own records. */
  readonly store: SessionStore;

  constructor(
    private readonly options: ResolvedOptions,
    /**
     * Without one, the live sessions are the store: a record outlives neither its session nor
     * the process, as in a `MemorySessionStore`, and the records need no map of their own
     * (~30 bytes of every session, issue 14).
     */
    store: SessionStore | undefined,
    private readonly onError: (error: unknown) => void,
  ) {
    this.store = store ?? {
      get: (id) => this.sessions.get(id)?.storeRecord,
      set: () => {},
      delete: () => {},
    };
    // Coarse buckets for long windows: expiry a little late is harmless, timer churn is not.
    const resolutionMs = Math.max(5, Math.min(1_000, Math.floor(options.resumeWindowMs / 100)));
    this.expiry = new Deadlines((session) => this.expire(session), { resolutionMs });
  }

  get(id: string): SessionImpl | undefined {
    return this.sessions.get(id);
  }

  get size(): number {
    return this.sessions.size;
  }

  countOf(identityHash: string): number {
    return this.byIdentity.get(identityHash)?.size ?? 0;
  }

  oldestDetached(identityHash: string): SessionImpl | undefined {
    let oldest: SessionImpl | undefined;
    for (const s of this.byIdentity.get(identityHash) ?? []) {
      if (s.state === 'detached' && (oldest === undefined || s.detachedAt < oldest.detachedAt)) oldest = s;
    }
    return oldest;
  }

  /** The record of a live session as last written to the store. */
  recordOf(session: SessionImpl): SessionRecord {
    return session.storeRecord as SessionRecord;
  }

  add(session: SessionImpl, record: SessionRecord): void {
    this.sessions.set(session.id, session);
    if (this.options.authenticate !== undefined) {
      const hash = record.identityHash;
      let mine = this.byIdentity.get(hash);
      if (mine === undefined) this.byIdentity.set(hash, (mine = new Set()));
      mine.add(session);
    }
    this.write(session, record);
  }

  /**
   * A resume (or a `hello` reclaiming it by its nonce) is about to attach `session`: its token was rotated. One store write, already as
   * attached (`attached()` then has nothing to write).
   */
  rotated(session: SessionImpl, tokenHash: string, previousTokenHash: string | null): void {
    this.write(session, { ...this.recordOf(session), tokenHash, previousTokenHash, expiresAt: null });
  }

  /** The shared path: the engine rotated the token; this is the record as it stands there now. */
  adopt(session: SessionImpl, record: SessionRecord): void {
    session.storeRecord = record;
  }

  attached(session: SessionImpl): void {
    this.expiry.delete(session);
    const record = this.recordOf(session);
    if (record.expiresAt !== null) this.write(session, { ...record, expiresAt: null });
  }

  detached(session: SessionImpl): void {
    const window = this.options.resumeWindowMs;
    this.expiry.add(session, monotonic() + window);
    this.write(session, { ...this.recordOf(session), expiresAt: this.options.now() + window });
  }

  /** The session ended: forgotten here and in the store. */
  ended(session: SessionImpl): void {
    this.expiry.delete(session);
    const record = this.recordOf(session);
    session.storeRecord = undefined;
    if (this.sessions.get(session.id) !== session) return;
    this.sessions.delete(session.id);
    const hash = record.identityHash;
    const mine = this.byIdentity.get(hash);
    if (mine !== undefined && mine.delete(session) && mine.size === 0) this.byIdentity.delete(hash);
    this.guard(() => this.store.delete(session.id));
  }

  /** Whether a stored record may still be resumed. */
  live(record: SessionRecord): boolean {
    return record.expiresAt === null || record.expiresAt > this.options.now();
  }

  stop(): void {
    this.expiry.clear();
  }

  private expire(session: SessionImpl): void {
    try {
      session.end('expired', undefined);
    } catch (error) {
      this.onError(error);
    }
  }

  private write(session: SessionImpl, record: SessionRecord): void {
    session.storeRecord = record;
    this.guard(() => this.store.set(record));
  }

  /** A store may be sync or async; either way its failure is reported, never thrown. */
  private guard(op: () => void | Promise<void>): void {
    try {
      const result = op();
      if (result !== undefined && typeof (result as Promise<void>).then === 'function') (result as Promise<void>).then(undefined, this.onError);
    } catch (error) {
      this.onError(error);
    }
  }
}
