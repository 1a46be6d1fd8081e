import { Fifo } from '@lifeline/protocol/internal';
import type { SessionRecord } from '../store.js';
import { checkSessionLimits } from './engine-sessions.js';
import type {
  ClaimResult,
  CompleteClaimResult,
  NodeEngine,
  PushEngine,
  RotateResult,
  SessionEngine,
  SessionLimits,
  SessionStateEngine,
  StoredOutcome,
  StoredPush,
  StoredSession,
  TokenRotation,
} from './engine-sessions.js';

const MAX_SESSION_ID = 1024;
const MAX_NODE = 128;
/** Who holds a released claim that had been taken over: no node (node ids are nanoids, never `!`), so never alive. */
const RELEASED = '!released';

interface Claim {
  readonly id: string;
  node: string;
  redelivered: boolean;
}

interface State {
  record: SessionRecord;
  holder: string | null;
  readonly limits: SessionLimits;
  accepted: number;
  /** Highest seq whose outcome the cache evicted (or never stored): a claim at or below it is a duplicate. */
  evictedUpTo: number;
  readonly claims: Map<number, Claim>;
  readonly outcomes: Map<number, StoredOutcome>;
  /** Seqs of `outcomes` in completion order, for eviction oldest first. */
  readonly outcomeOrder: Fifo<number>;
  outcomeChars: number;
  pushSeq: number;
  pushAcked: number;
  readonly pushes: Fifo<StoredPush>;
  pushChars: number;
  /** Engine clock ms after which every part of the session is gone (its keys' TTL). */
  deadline: number;
  /** Engine clock ms at which the deadline was last set: a per-message write restarts it only a quarter of `ttlMs` later. */
  refreshedAt: number;
}

export interface MemorySessionState extends SessionStateEngine {
  /** Drop expired sessions and heartbeats now. */
  sweep(): void;
  /** Sessions held now. */
  readonly sessionCount: number;
  /** Forget everything (the engine closed). */
  clear(): void;
}

function text(name: string, value: unknown, max: number): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw new TypeError(`${name} must be a string of 1 to ${max} characters, got ${typeof value === 'string' ? `${value.length} characters` : String(value)}`);
  }
  return value;
}

function positive(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new TypeError(`${name} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}


/**
 * Session state of the embedded engine: what one process keeps today, behind the contract a
 * Redis engine implements with Lua. Sessions sit in a Map re-inserted on every write, so the
 * head is the one written longest ago and expiry sweeps from it (a session with a longer TTL
 * behind an expired one is also checked lazily on every access).
 */
export function memorySessionState(now: () => number, checkOpen: (method: string) => void): MemorySessionState {
  const states = new Map<string, State>();
  const heartbeats = new Map<string, number>();

  function live(sid: string): State | undefined {
    const state = states.get(sid);
    if (state === undefined) return undefined;
    if (state.deadline <= now()) {
      states.delete(sid);
      return undefined;
    }
    return state;
  }

  /**
   * A write: the session's TTL starts again (a per-message write, `full` false, only once a
   * quarter of it has passed, as on Redis: engine-sessions.ts, "Expiry"), and it moves to the
   * tail of the expiry order.
   */
  function wrote(sid: string, state: State, full: boolean): void {
    const at = now();
    if (!full && at - state.refreshedAt < state.limits.ttlMs / 4) return;
    state.deadline = at + state.limits.ttlMs;
    state.refreshedAt = at;
    states.delete(sid);
    states.set(sid, state);
  }

  function alive(node: string): boolean {
    const until = heartbeats.get(node);
    if (until === undefined) return false;
    if (until <= now()) {
      heartbeats.delete(node);
      return false;
    }
    return true;
  }

  function evictOldest(state: State): void {
    const seq = state.outcomeOrder.shift() as number;
    const outcome = state.outcomes.get(seq) as StoredOutcome;
    state.outcomes.delete(seq);
    state.outcomeChars -= outcome.data.length;
    if (seq > state.evictedUpTo) state.evictedUpTo = seq;
  }

  const sessions: SessionEngine = {
    async create(record: SessionRecord, limits: SessionLimits, node: string | null): Promise<boolean> {
      checkOpen('sessions.create');
      const sid = text('record.id', record?.id, MAX_SESSION_ID);
      const checked = checkSessionLimits(limits);
      const holder = node === null ? null : text('node', node, MAX_NODE);
      if (live(sid) !== undefined) return false;
      const state: State = {
        record: { ...record },
        holder,
        limits: checked,
        accepted: 0,
        evictedUpTo: 0,
        claims: new Map(),
        outcomes: new Map(),
        outcomeOrder: new Fifo(),
        outcomeChars: 0,
        pushSeq: 0,
        pushAcked: 0,
        pushes: new Fifo(),
        pushChars: 0,
        deadline: 0,
        refreshedAt: 0,
      };
      wrote(sid, state, true);
      return true;
    },

    async get(sid: string): Promise<StoredSession | undefined> {
      checkOpen('sessions.get');
      const state = live(text('sid', sid, MAX_SESSION_ID));
      if (state === undefined) return undefined;
      return { record: state.record, holder: state.holder, accepted: state.accepted, pushSeq: state.pushSeq, pushAcked: state.pushAcked, limits: state.limits };
    },

    async rotate(sid: string, expectedTokenHash: string, next: TokenRotation, node: string): Promise<RotateResult> {
      checkOpen('sessions.rotate');
      text('node', node, MAX_NODE);
      if (typeof next !== 'object' || next === null) throw new TypeError('next must be { tokenHash, previousTokenHash }');
      const state = live(text('sid', sid, MAX_SESSION_ID));
      if (state === undefined || state.record.tokenHash !== expectedTokenHash) return { ok: false };
      const previousHolder = state.holder;
      state.record = { ...state.record, tokenHash: next.tokenHash, previousTokenHash: next.previousTokenHash, expiresAt: null };
      state.holder = node;
      wrote(sid, state, true);
      return { ok: true, previousHolder };
    },

    async detach(sid: string, node: string, expiresAt: number): Promise<boolean> {
      checkOpen('sessions.detach');
      text('node', node, MAX_NODE);
      const state = live(text('sid', sid, MAX_SESSION_ID));
      if (state === undefined || state.holder !== node) return false;
      state.holder = null;
      state.record = { ...state.record, expiresAt };
      wrote(sid, state, true);
      return true;
    },

    async touch(sid: string): Promise<boolean> {
      checkOpen('sessions.touch');
      const state = live(text('sid', sid, MAX_SESSION_ID));
      if (state === undefined) return false;
      wrote(sid, state, true);
      return true;
    },

    async refresh(sid: string, node: string): Promise<string | null | undefined> {
      checkOpen('sessions.refresh');
      text('node', node, MAX_NODE);
      const state = live(text('sid', sid, MAX_SESSION_ID));
      if (state === undefined) return undefined;
      if (state.holder === node) wrote(sid, state, true);
      return state.holder;
    },

    async end(sid: string): Promise<void> {
      checkOpen('sessions.end');
      states.delete(text('sid', sid, MAX_SESSION_ID));
    },

    async claim(sid: string, seq: number, id: string, node: string): Promise<ClaimResult> {
      checkOpen('sessions.claim');
      positive('seq', seq, 1);
      text('id', id, MAX_SESSION_ID);
      text('node', node, MAX_NODE);
      const state = live(text('sid', sid, MAX_SESSION_ID));
      if (state === undefined) return { status: 'unknown-session' };
      const outcome = state.outcomes.get(seq);
      if (outcome !== undefined) return { status: 'duplicate', outcome };
      const held = state.claims.get(seq);
      if (held !== undefined) {
        const holderAlive = alive(held.node);
        if (holderAlive || held.node === node) return { status: 'running-elsewhere', node: held.node, alive: holderAlive };
        const lost = held.redelivered;
        held.node = node;
        held.redelivered = true;
        wrote(sid, state, false);
        return lost ? { status: 'lost' } : { status: 'claimed', redelivered: true };
      }
      if (seq <= state.evictedUpTo) return { status: 'duplicate', outcome: undefined };
      state.claims.set(seq, { id, node, redelivered: false });
      if (seq > state.accepted) state.accepted = seq;
      wrote(sid, state, false);
      return { status: 'claimed', redelivered: false };
    },

    async complete(sid: string, seq: number, node: string, outcome: StoredOutcome): Promise<boolean> {
      checkOpen('sessions.complete');
      positive('seq', seq, 1);
      text('node', node, MAX_NODE);
      if (typeof outcome !== 'object' || outcome === null || typeof outcome.data !== 'string') throw new TypeError('outcome must be { error, data: string }');
      const state = live(text('sid', sid, MAX_SESSION_ID));
      if (state === undefined) return false;
      const held = state.claims.get(seq);
      if (held === undefined || held.node !== node) return false;
      state.claims.delete(seq);
      const size = outcome.data.length;
      if (size > state.limits.resultChars) {
        // Answered once, never stored: a retransmission is a duplicate whose outcome is gone.
        if (seq > state.evictedUpTo) state.evictedUpTo = seq;
      } else {
        state.outcomes.set(seq, { error: outcome.error === true, data: outcome.data });
        state.outcomeOrder.push(seq);
        state.outcomeChars += size;
        while (state.outcomes.size > state.limits.results || state.outcomeChars > state.limits.resultChars) evictOldest(state);
      }
      wrote(sid, state, false);
      return true;
    },

    async release(sid: string, seq: number, node: string): Promise<boolean> {
      checkOpen('sessions.release');
      positive('seq', seq, 1);
      text('node', node, MAX_NODE);
      const state = live(text('sid', sid, MAX_SESSION_ID));
      if (state === undefined || state.outcomes.has(seq)) return false;
      const held = state.claims.get(seq);
      if (held === undefined || held.node !== node) return false;
      if (held.redelivered) {
        // Taken over before: its handler ran on a node that died (or two, when it was lost); which,
        // the claim does not say, so the next claimant finds it lost rather than run it a third time.
        held.node = RELEASED;
      } else {
        state.claims.delete(seq);
      }
      wrote(sid, state, false);
      return true;
    },

    async completeThenClaim(sid: string, seq: number, node: string, outcome: StoredOutcome, next: { readonly seq: number; readonly id: string }): Promise<CompleteClaimResult> {
      if (typeof next !== 'object' || next === null) throw new TypeError('next must be { seq, id }');
      positive('next.seq', next.seq, 1);
      text('next.id', next.id, MAX_SESSION_ID);
      if (next.seq === seq) throw new TypeError('next.seq must differ from seq');
      const kept = await sessions.complete(sid, seq, node, outcome);
      return { kept, next: await sessions.claim(sid, next.seq, next.id, node) };
    },
  };

  const pushes: PushEngine = {
    async append(sid: string, data: string): Promise<number | 'full' | undefined> {
      checkOpen('pushes.append');
      if (typeof data !== 'string') throw new TypeError('data must be a string (the push, encoded)');
      const state = live(text('sid', sid, MAX_SESSION_ID));
      if (state === undefined) return undefined;
      if (state.pushes.length >= state.limits.pushes || state.pushChars + data.length > state.limits.pushChars) return 'full';
      const seq = ++state.pushSeq;
      state.pushes.push({ seq, data });
      state.pushChars += data.length;
      wrote(sid, state, false);
      return seq;
    },

    async ack(sid: string, seq: number): Promise<number> {
      checkOpen('pushes.ack');
      positive('seq', seq, 0);
      const state = live(text('sid', sid, MAX_SESSION_ID));
      if (state === undefined) return 0;
      let dropped = 0;
      for (let head = state.pushes.peek(); head !== undefined && head.seq <= seq; head = state.pushes.peek()) {
        state.pushes.shift();
        state.pushChars -= head.data.length;
        dropped++;
      }
      // Seqs never appended are vouched for by nothing.
      const upTo = Math.min(seq, state.pushSeq);
      if (upTo > state.pushAcked) state.pushAcked = upTo;
      if (dropped > 0) wrote(sid, state, false);
      return dropped;
    },

    async list(sid: string, after = 0, limit = Infinity): Promise<StoredPush[]> {
      checkOpen('pushes.list');
      positive('after', after, 0);
      if (limit !== Infinity) positive('limit', limit, 0);
      const state = live(text('sid', sid, MAX_SESSION_ID));
      if (state === undefined) return [];
      const out: StoredPush[] = [];
      const first = state.pushes.peek();
      if (first === undefined) return out;
      // Seqs in the queue are consecutive, so `after` is an index.
      for (let i = Math.max(0, after + 1 - first.seq); i < state.pushes.length && out.length < limit; i++) out.push(state.pushes.at(i) as StoredPush);
      return out;
    },
  };

  const nodes: NodeEngine = {
    async heartbeat(node: string, ttlMs: number): Promise<void> {
      checkOpen('nodes.heartbeat');
      text('node', node, MAX_NODE);
      positive('ttlMs', ttlMs, 1);
      heartbeats.set(node, now() + ttlMs);
    },
    async alive(node: string): Promise<boolean> {
      checkOpen('nodes.alive');
      return alive(text('node', node, MAX_NODE));
    },
    async leave(node: string): Promise<void> {
      checkOpen('nodes.leave');
      heartbeats.delete(text('node', node, MAX_NODE));
    },
  };

  return {
    sessions,
    pushes,
    nodes,
    sweep() {
      const at = now();
      for (const [sid, state] of states) {
        if (state.deadline > at) break;
        states.delete(sid);
      }
      for (const [node, until] of heartbeats) if (until <= at) heartbeats.delete(node);
    },
    get sessionCount() {
      return states.size;
    },
    clear() {
      states.clear();
      heartbeats.clear();
    },
  };
}
