import { Deadlines, now as monotonic } from '@lifeline/protocol';
import type { ResolvedOptions } from './options.js';
import type { SessionImpl } from './session.js';
import type { SessionRecord, SessionStore } from './store.js';

/**
 * The live sessions of this process, and their expiry: a detached session ends
 * `resumeWindowMs` after its connection went (session `close` with reason `expired`). All
 * expiries share one timer (protocol `Deadlines`), unref'd. Every change is mirrored to the
 * `SessionStore`, which is what a resume is checked against.
 */
export class Registry {
  readonly sessions = new Map<string, SessionImpl>();
  private readonly expiry: Deadlines<SessionImpl>;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly store: SessionStore,
    private readonly onError: (error: unknown) => void,
  ) {
    // Coarse buckets for long windows: expiry a little late is harmless, timer churn is not.
    const resolutionMs = Math.max(5, Math.min(1_000, Math.floor(options.resumeWindowMs / 100)));
    this.expiry = new Deadlines((session) => this.expire(session), { resolutionMs });
  }

  get(id: string): SessionImpl | undefined {
    return this.sessions.get(id);
  }

  add(session: SessionImpl): void {
    this.sessions.set(session.id, session);
    this.write(session, session.record);
  }

  attached(session: SessionImpl): void {
    this.expiry.delete(session);
    if (session.record.expiresAt !== null) this.write(session, { ...session.record, expiresAt: null });
  }

  detached(session: SessionImpl): void {
    const window = this.options.resumeWindowMs;
    this.expiry.add(session, monotonic() + window);
    this.write(session, { ...session.record, expiresAt: this.options.now() + window });
  }

  remove(session: SessionImpl): void {
    this.expiry.delete(session);
    if (this.sessions.get(session.id) !== session) return;
    this.sessions.delete(session.id);
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
    session.record = record;
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
