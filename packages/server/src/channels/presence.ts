import { jsonCodec, type Json } from '@lifeline/protocol';
import type { Engine, PresenceMember } from '../engine/engine.js';
import type { Session } from '../session.js';

/** A session's presence on this node: its member entry and the channels it is present in. */
interface Held {
  readonly member: PresenceMember;
  readonly channels: Set<string>;
}

export interface PresenceDeps {
  readonly engine: Pick<Engine, 'presenceAdd' | 'presenceRemove'>;
  readonly ttlMs: number;
  /** Channels a session may be present in (stale entries of earlier connections make room). */
  readonly maxPerSession: number;
  readonly identity: ((session: Session) => Json | undefined) | undefined;
  readonly reportError: (error: unknown) => void;
}

/**
 * Presence belongs to the session, not to the connection (protocol.md, "Presence"): a member is
 * added at the session's first subscription to a channel and stays while the session lives,
 * detached within its resume window included, so a drop that resumes makes no `leave` and no
 * `join`; it goes when the client sends `unsub` or the session ends. Entries live in the engine
 * with a time to live, refreshed for every session of this node by one timer (every third of
 * the TTL), never one per member: if this node dies, its members expire.
 */
export class Presence {
  private readonly held = new Map<string, Held>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly deps: PresenceDeps) {}

  /** Sessions present somewhere on this node (for tests). */
  get sessions(): number {
    return this.held.size;
  }

  /**
   * `session` is present in `channel` (a `join` for the others when it was not). When the session
   * already is in `maxPerSession` channels, those its current connection is not subscribed to
   * (`subscribed`) are left first, so what one session holds stays bounded across reconnects.
   */
  async add(session: Session, channel: string, subscribed: (channel: string) => boolean): Promise<void> {
    let held = this.held.get(session.id);
    if (held === undefined) {
      held = { member: this.memberOf(session), channels: new Set() };
      this.held.set(session.id, held);
      this.startTimer();
    }
    if (!held.channels.has(channel) && held.channels.size >= this.deps.maxPerSession) {
      for (const stale of held.channels) if (stale !== channel && !subscribed(stale)) this.remove(session.id, stale);
    }
    held.channels.add(channel);
    try {
      await this.deps.engine.presenceAdd(channel, held.member, this.deps.ttlMs);
    } catch (error) {
      this.forget(session.id, channel);
      throw error;
    }
  }

  /** The session left `channel` (its client unsubscribed): a `leave` for the others. */
  remove(sessionId: string, channel: string): void {
    if (!this.forget(sessionId, channel)) return;
    this.deps.engine.presenceRemove(channel, sessionId).catch(this.deps.reportError);
  }

  /** The session ended: it leaves every channel. */
  ended(sessionId: string): void {
    const held = this.held.get(sessionId);
    if (held === undefined) return;
    for (const channel of [...held.channels]) this.remove(sessionId, channel);
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.held.clear();
  }

  private forget(sessionId: string, channel: string): boolean {
    const held = this.held.get(sessionId);
    if (held === undefined || !held.channels.delete(channel)) return false;
    if (held.channels.size === 0) this.held.delete(sessionId);
    if (this.held.size === 0) this.stop();
    return true;
  }

  /** The member entry: ids only, unless the `presence` option shows something of the identity. */
  private memberOf(session: Session): PresenceMember {
    const base = { clientId: session.id, sessionId: session.id };
    const show = this.deps.identity;
    if (show === undefined) return base;
    try {
      const identity = show(session);
      if (identity === undefined) return base;
      jsonCodec.value(identity); // a cycle or a BigInt would break every join frame later
      return { ...base, identity };
    } catch (error) {
      this.deps.reportError(new Error('channels.presence() threw or returned what JSON cannot carry; the member shows no identity', { cause: error }));
      return base;
    }
  }

  private startTimer(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.refresh(), Math.max(1, Math.floor(this.deps.ttlMs / 3)));
    this.timer.unref?.();
  }

  private refresh(): void {
    const { engine, ttlMs, reportError } = this.deps;
    for (const held of this.held.values()) {
      for (const channel of held.channels) engine.presenceAdd(channel, held.member, ttlMs).catch(reportError);
    }
  }
}
