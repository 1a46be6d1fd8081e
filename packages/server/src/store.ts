/**
 * Where the server keeps what it needs to decide a resume: the session id, hashes of its resume
 * tokens, a hash of the identity that opened it, and when it stops being resumable. Nothing in
 * it is a secret or a claim in clear: a store may be shared, and an identity may hold a bearer
 * token. The live
 * session (its buffers and handler queue) stays in the process; a shared store (Redis, later
 * work in DESIGN.md) is what lets another node recognise the session.
 */
export interface SessionRecord {
  readonly id: string;
  /** Hex SHA-256 of the current resume token (rotated on every resume); the token itself is never stored. */
  readonly tokenHash: string;
  /**
   * Hex SHA-256 of the token the last resume presented, or `null`. It is accepted once more
   * only while the session is detached: the client may never have received the rotated token
   * (its link died right after `welcome`). Presenting the current token retires it.
   */
  readonly previousTokenHash: string | null;
  /** Hex SHA-256 of the identity's key (the server's `identityKey` option); never the identity itself. */
  readonly identityHash: string;
  /** Wall-clock ms after which the session may not be resumed; `null` while a connection holds it. */
  readonly expiresAt: number | null;
  /**
   * Name of the session's codec (kept for life: its stored outcomes and pushes are encoded in
   * it), so a node that did not open the session serves it in the same codec. Set by the server
   * on an `engine` with session state; absent in the default in-process store.
   */
  readonly codec?: string;
}

/**
 * Minimal by design: get, set and delete of one serialisable record. Methods may return
 * promises; a rejected `set` or `delete` is reported through the server's `error` event.
 */
export interface SessionStore {
  get(id: string): SessionRecord | undefined | Promise<SessionRecord | undefined>;
  set(record: SessionRecord): void | Promise<void>;
  delete(id: string): void | Promise<void>;
}

/**
 * The default store: a Map in this process. It loses everything on restart, so after one every
 * client that tries to resume is answered `resumed: false` and reports `session-lost` (its
 * unknown-outcome messages are re-sent under their original ids).
 */
export class MemorySessionStore implements SessionStore {
  private readonly records = new Map<string, SessionRecord>();

  get(id: string): SessionRecord | undefined {
    return this.records.get(id);
  }

  set(record: SessionRecord): void {
    this.records.set(record.id, record);
  }

  delete(id: string): void {
    this.records.delete(id);
  }

  /** Records held (for tests and diagnostics). */
  get size(): number {
    return this.records.size;
  }
}
