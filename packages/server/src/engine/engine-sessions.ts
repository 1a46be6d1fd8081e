import type { SessionRecord } from '../store.js';

/**
 * The session-state half of the `Engine` (DESIGN.md, "Engines", guarantee 10): what a node needs
 * so that a client may resume on any node, and so that no message id is handed to a handler
 * twice across nodes. It backs, once the server is wired onto it, the Registry + SessionStore
 * (records, rotation, attach/detach), Inbound's accepted mark and ResultCache (`claim`,
 * `complete`), and Outbound's unacknowledged pushes (`pushes`).
 *
 * Shaped for Redis: every method is one atomic step (one Lua script), on keys of one session
 * only (a hash tag `{sid}` per session, so Redis Cluster may spread sessions).
 *
 * Expiry: nothing outlives an abandoned session. `create`, `rotate`, `detach` and `touch` give
 * every part of the session `ttlMs` (its resume window, fixed at `create`) to live from then; the
 * per-message writes (`claim`, `complete`, `completeThenClaim`, `release`, `pushes.append`,
 * `pushes.appendMany`, `pushes.ack`) restart that only once a quarter of it has passed, so a
 * session lives at least ¾ `ttlMs` after any write and at most `ttlMs` after its last one.
 * (Refreshing on every message cost Redis a PEXPIRE per key per write: issue 12.) A detached
 * session thus lives a full `ttlMs` after `detach`; the holder of an attached one refreshes it with
 * `touch`.
 *
 * Values are strings: the server encodes outcomes and pushes in the session's codec before they
 * reach the engine (a binary codec's bytes as base64), so an engine never knows the codec.
 * Sizes are counted in characters of those strings.
 */
export interface SessionEngine {
  /**
   * Store a new session with its limits, held by `node` (the node whose connection opened it;
   * null: created detached); it expires `limits.ttlMs` from now unless written again.
   * Resolves `false` (and changes nothing) when a session with this id exists.
   */
  create(record: SessionRecord, limits: SessionLimits, node: string | null): Promise<boolean>;

  /** The session as stored now (record, holder, accepted mark, push position), or undefined when it is unknown or expired. */
  get(sid: string): Promise<StoredSession | undefined>;

  /**
   * A resume: compare-and-set of the token. Only when the stored `tokenHash` is still
   * `expectedTokenHash` (the one the caller read and checked the client's token against) are the
   * hashes replaced by `next`, the session marked attached (`expiresAt: null`) to `node`, and its
   * keys' TTLs refreshed. Two nodes resuming the same session at once: exactly one wins; the
   * other gets `{ ok: false }` and answers its client as for a stale token. `previousHolder` is
   * the node that held the session before (it must drop its connection: wiring).
   */
  rotate(sid: string, expectedTokenHash: string, next: TokenRotation, node: string): Promise<RotateResult>;

  /**
   * The connection on `node` is gone: the session becomes resumable until `expiresAt` (wall
   * clock ms). Only the holder may detach: a late detach from a node the session has since moved
   * away from changes nothing and resolves `false` (as does an unknown session).
   */
  detach(sid: string, node: string, expiresAt: number): Promise<boolean>;

  /** Restart the full `ttlMs` of every part of the session (its holder does, well within `ttlMs`); `false` when it is unknown. */
  touch(sid: string): Promise<boolean>;

  /**
   * The holder's keep-alive, one call where the sweep made two (`get`, then `touch`): restart the
   * full `ttlMs` as `touch` does, but only while `node` holds the session. Resolves the holder
   * now (`null`: detached; another node: the session moved and is not touched), or `undefined`
   * when the session is unknown. Optional: without it a node reads and touches.
   */
  refresh?(sid: string, node: string): Promise<string | null | undefined>;

  /** The session ended: every key of it is deleted (record, claims, outcomes, pushes). Idempotent. */
  end(sid: string): Promise<void>;

  /**
   * Claim client message `seq` (id `id`) for `node`, before its handler runs. Atomic, so of two
   * nodes claiming the same seq one gets `claimed` and the other sees it running:
   *
   * - `claimed`: hand it to the handler; `redelivered` is true when the claim was taken over from
   *   a node that died while its handler ran (`NodeEngine.alive` false). A claim is taken over at
   *   most once as `claimed`.
   * - `lost`: the claim had been taken over once already and that node died too. The caller now
   *   holds the claim but must not run the handler a third time: it `complete`s it with an error
   *   outcome (the handler's effect is unknown), which every later retransmission gets.
   * - `duplicate`: the seq was handled; `outcome` is its stored outcome, or undefined when the
   *   result cache evicted it (answer `ERR_RESULT_EVICTED`). Never handled again.
   * - `running-elsewhere`: a handler holds the claim on `node` (which may be the caller's own);
   *   the answer follows when it completes. `alive` says whether that node's heartbeat stands.
   * - `unknown-session`: no such session (ended or expired).
   *
   * The accepted mark becomes `max(accepted, seq)` on `claimed`. A seq with neither claim nor
   * outcome is claimed when it is above the highest seq whose outcome was evicted (or never
   * stored, being too large): below it, it counts as handled (`duplicate` with no outcome), the
   * safe side, so the cache needs no tombstone per seq. Clients number messages consecutively
   * and the server handles them in order, so this only errs for a client that skips seqs.
   */
  claim(sid: string, seq: number, id: string, node: string): Promise<ClaimResult>;

  /**
   * Store the outcome of `seq`, whose claim `node` holds, and release the claim. The result
   * cache keeps at most `limits.results` outcomes and `limits.resultChars` characters, oldest
   * evicted first; an outcome larger than `resultChars` is answered once and never stored (a
   * retransmission then gets `ERR_RESULT_EVICTED`). Resolves `false`, storing nothing, when
   * `node` no longer holds the claim (it was taken over after the node was thought dead): the
   * caller must not answer its client with this outcome as if it were the only one.
   */
  complete(sid: string, seq: number, node: string, outcome: StoredOutcome): Promise<boolean>;

  /**
   * Let go of the claim on `seq` that `node` holds but whose handler never ran there. A `claim`
   * call can fail on the node (a command timeout) and still be carried out by the engine later
   * (the command was queued behind a silence): the live node then holds a claim no handler of
   * its will complete, and the session, handled in order, stalls on it. Only when `node` holds
   * the claim and no outcome is stored: a claim made afresh is deleted (the next `claim` gets it,
   * not redelivered: no handler ran); one that `node` had taken over goes to a holder that is
   * never alive, and since the claim does not tell a first takeover (the handler ran once) from
   * a `lost` one (twice), the next `claim` answers `lost`: never a third run.
   * Resolves whether a claim was let go. Never for a seq whose handler ran on `node`: that one is
   * `complete`d (with its outcome, or an error one).
   */
  release(sid: string, seq: number, node: string): Promise<boolean>;

  /**
   * `complete(sid, seq, node, outcome)` and then `claim(sid, next.seq, next.id, node)`, with the
   * same results as those two calls made one after the other, in one step: a session whose next
   * message is queued already costs one engine round trip per message instead of two. Optional:
   * the server makes the two calls when an engine lacks it. `next.seq` differs from `seq`.
   */
  completeThenClaim?(sid: string, seq: number, node: string, outcome: StoredOutcome, next: { readonly seq: number; readonly id: string }): Promise<CompleteClaimResult>;

  /**
   * `complete` each of `done`, then `claim` each of `next`, in that order, with the same results
   * as those calls made one after the other, in one step: a session with many messages queued
   * costs one engine round trip per batch instead of per message (issue 12: on Redis the fixed
   * cost of a call, a script run and two socket writes, was most of a message's cost). Optional:
   * the server goes one message per call (`completeThenClaim`) when an engine lacks it. Seqs are
   * distinct within `done` and within `next`; at most `MAX_BATCH` of each.
   */
  completeThenClaimMany?(sid: string, node: string, done: readonly DoneMessage[], next: readonly NextMessage[]): Promise<CompleteClaimManyResult>;
}

/** Most messages in one `completeThenClaimMany` (each of `done` and `next`). */
export const MAX_BATCH = 64;

/** A handled message to `complete`. */
export interface DoneMessage {
  readonly seq: number;
  readonly outcome: StoredOutcome;
}

/** A queued message to `claim`. */
export interface NextMessage {
  readonly seq: number;
  readonly id: string;
}

/** What `completeThenClaimMany` resolves with: `kept[i]` as `complete` of `done[i]`, `next[i]` as `claim` of `next[i]`. */
export interface CompleteClaimManyResult {
  readonly kept: readonly boolean[];
  readonly next: readonly ClaimResult[];
}

/** What `completeThenClaim` resolves with: `kept` as `complete` resolves, `next` as `claim` does. */
export interface CompleteClaimResult {
  readonly kept: boolean;
  readonly next: ClaimResult;
}

/**
 * Unacknowledged server → client messages of a session. They are numbered by the engine, so a
 * node that resumes the session continues the sequence and resends what the client has not
 * acknowledged; what a node keeps in memory (the `session.send()` promises) is not here.
 */
export interface PushEngine {
  /**
   * Append one encoded push; resolves its seq (the previous + 1, from 1). `'full'` (nothing
   * stored) when the session holds `limits.pushes` messages or `limits.pushChars` characters
   * unacknowledged; `undefined` when the session is unknown.
   */
  append(sid: string, data: string): Promise<number | 'full' | undefined>;

  /**
   * Optional: `append` of each of `data` in one step, as the calls one after the other (a push
   * that does not fit is `'full'` and the next may still fit). At most `MAX_BATCH` pushes. An
   * engine where a call costs a round trip implements it; the server then appends the pushes
   * made while a call is out in the next call.
   */
  appendMany?(sid: string, data: readonly string[]): Promise<(number | 'full' | undefined)[]>;

  /** The client acknowledged every push up to `seq` (cumulative `cack`): they are dropped. Resolves how many were. */
  ack(sid: string, seq: number): Promise<number>;

  /** The unacknowledged pushes with seq above `after` (default 0), oldest first, at most `limit` (default all). */
  list(sid: string, after?: number, limit?: number): Promise<StoredPush[]>;
}

/**
 * Node liveness: each node holds a heartbeat key with a TTL and refreshes it well within it.
 * A node whose heartbeat lapsed is dead: its running claims may be taken over (once).
 */
export interface NodeEngine {
  /** Set or refresh `node`'s heartbeat for `ttlMs`. */
  heartbeat(node: string, ttlMs: number): Promise<void>;
  /** Whether `node`'s heartbeat stands. */
  alive(node: string): Promise<boolean>;
  /** `node` leaves now (its heartbeat is deleted): its claims may be taken over at once. */
  leave(node: string): Promise<void>;
}

/** The session-state part of an engine, under three names. */
export interface SessionStateEngine {
  readonly sessions: SessionEngine;
  readonly pushes: PushEngine;
  readonly nodes: NodeEngine;
}

/** Fixed at `create`: the server's resume window and cache bounds. */
export interface SessionLimits {
  /** The session's time to live, ms (the resume window): see "Expiry" on `SessionEngine`. */
  readonly ttlMs: number;
  /** Most outcomes the result cache keeps (the server's `maxInFlight`). */
  readonly results: number;
  /** Most characters of outcomes it keeps (`maxResultCacheBytes`). */
  readonly resultChars: number;
  /** Most unacknowledged pushes (`maxQueued.messages`). */
  readonly pushes: number;
  /** Most characters of unacknowledged pushes (`maxQueued.bytes`). */
  readonly pushChars: number;
}

export interface StoredSession {
  readonly record: SessionRecord;
  /** The node whose connection holds the session, or null while it is detached. */
  readonly holder: string | null;
  /** Highest client seq claimed: `welcome.seq` on a resume. */
  readonly accepted: number;
  /** Highest push seq appended. */
  readonly pushSeq: number;
  /** Highest push seq acknowledged by the client. */
  readonly pushAcked: number;
  readonly limits: SessionLimits;
}

export interface TokenRotation {
  readonly tokenHash: string;
  readonly previousTokenHash: string | null;
}

export type RotateResult = { readonly ok: true; readonly previousHolder: string | null } | { readonly ok: false };

/** A handled message's outcome, encoded: a result, or an error's `{ code, message }`. */
export interface StoredOutcome {
  readonly error: boolean;
  readonly data: string;
}

export interface StoredPush {
  readonly seq: number;
  readonly data: string;
}

export type ClaimResult =
  | { readonly status: 'claimed'; readonly redelivered: boolean }
  | { readonly status: 'duplicate'; readonly outcome: StoredOutcome | undefined }
  | { readonly status: 'running-elsewhere'; readonly node: string; readonly alive: boolean }
  | { readonly status: 'lost' }
  | { readonly status: 'unknown-session' };

/**
 * `limits` checked as every engine must before it stores them (the same for all, so nodes on
 * different engines refuse the same values): each a safe integer of at least 1.
 */
export function checkSessionLimits(limits: SessionLimits): SessionLimits {
  if (typeof limits !== 'object' || limits === null) throw new TypeError('limits must be { ttlMs, results, resultChars, pushes, pushChars }');
  const positive = (name: keyof SessionLimits): number => {
    const value: unknown = limits[name];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
      throw new TypeError(`limits.${name} must be an integer >= 1, got ${String(value)}`);
    }
    return value;
  };
  return { ttlMs: positive('ttlMs'), results: positive('results'), resultChars: positive('resultChars'), pushes: positive('pushes'), pushChars: positive('pushChars') };
}
