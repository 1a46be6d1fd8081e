import type { Redis } from 'ioredis';
import type {
  ClaimResult,
  CompleteClaimManyResult,
  CompleteClaimResult,
  DoneMessage,
  NextMessage,
  NodeEngine,
  PushEngine,
  RotateResult,
  SessionEngine,
  SessionLimits,
  SessionRecord,
  SessionStateEngine,
  StoredOutcome,
  StoredPush,
  StoredSession,
  TokenRotation,
} from '@lifeline/server';
import { checkSessionLimits, MAX_BATCH } from '@lifeline/server';
import { EngineUnavailableError } from './errors.js';
import { integer, text } from './options.js';
import {
  ackScript,
  appendManyScript,
  appendScript,
  claimScript,
  completeClaimManyScript,
  completeClaimScript,
  completeScript,
  createScript,
  detachScript,
  listScript,
  recordFields,
  refreshScript,
  releaseScript,
  rotateScript,
  takeoverScript,
  touchScript,
} from './session-scripts.js';
import { evalScript, script, type Script } from './lua.js';
import { pipelined } from './script-pipeline.js';

const MAX_SESSION_ID = 1024;
const MAX_NODE = 128;
/** A takeover that keeps losing races (the claim changing under it) gives up and reports the claim as running. */
const MAX_TAKEOVER_TRIES = 3;
/** Who holds a released claim that had been taken over: no node (node ids are nanoids, never `!`), so never alive. */
const RELEASED = '!released';

const scripts = {
  create: script(createScript),
  rotate: script(rotateScript),
  detach: script(detachScript),
  touch: script(touchScript),
  refresh: script(refreshScript),
  claim: script(claimScript),
  takeover: script(takeoverScript),
  complete: script(completeScript),
  completeClaim: script(completeClaimScript),
  completeClaimMany: script(completeClaimManyScript),
  append: script(appendScript),
  appendMany: script(appendManyScript),
  ack: script(ackScript),
  list: script(listScript),
  release: script(releaseScript),
};


/** A claim script's reply: `['u']`, `['d', outcome | null]`, `['r', node, takenOver]` or `['c']`. */
type ClaimReply = [string, ...unknown[]];

function outcomeOf(stored: string): StoredOutcome {
  return { error: stored.charCodeAt(0) === 49 /* '1' */, data: stored.slice(1) };
}

/**
 * Session state on Redis: one Lua script per method on the keys of one session
 * (`<prefix>s{<sid>}:r|oo|p`, see session-scripts.ts), heartbeats at `<prefix>n:<node>`.
 * Heartbeats live outside any session's slot (Redis Cluster), so a takeover is two steps: the
 * caller reads the holder's heartbeat, then a script swaps the claim only if that dead node
 * still holds it. A node never revives under the same id, so the read cannot go stale the
 * wrong way; a node that only paused finds its `complete` refused.
 */
export function redisSessionState(client: Redis, prefix: string, checkOpen: (method: string) => void): SessionStateEngine {
  const keys = (sid: string): string[] => {
    const base = `${prefix}s{${sid}}:`;
    return [`${base}r`, `${base}oo`, `${base}p`];
  };
  const nodeKey = (node: string) => `${prefix}n:${node}`;

  function failure(method: string, error: unknown): Error {
    const message = error instanceof Error ? error.message : String(error);
    return new EngineUnavailableError(`redisEngine.${method}(): Redis did not answer: ${message}`, { cause: error });
  }

  async function run(method: string, s: Script, sid: string, args: (string | number)[]): Promise<unknown> {
    checkOpen(method);
    const k = keys(sid);
    try {
      return await evalScript(client, s, k, args);
    } catch (error) {
      throw failure(method, error);
    }
  }

  async function command<T>(method: string, op: () => Promise<T>): Promise<T> {
    checkOpen(method);
    try {
      return await op();
    } catch (error) {
      throw failure(method, error);
    }
  }

  // The touch sweep's calls, many in one turn: one write to Redis for all of them.
  const refreshOne = pipelined(client, scripts.refresh);

  const sid = (value: unknown) => text('sid', value, MAX_SESSION_ID);
  const node = (value: unknown) => text('node', value, MAX_NODE);

  const nodes: NodeEngine = {
    async heartbeat(name: string, ttlMs: number): Promise<void> {
      node(name);
      integer('ttlMs', ttlMs, 1);
      await command('nodes.heartbeat', () => client.set(nodeKey(name), '1', 'PX', ttlMs));
    },
    async alive(name: string): Promise<boolean> {
      node(name);
      return (await command('nodes.alive', () => client.exists(nodeKey(name)))) === 1;
    },
    async leave(name: string): Promise<void> {
      node(name);
      await command('nodes.leave', () => client.del(nodeKey(name)));
    },
  };

  const sessions: SessionEngine = {
    async create(record: SessionRecord, limits: SessionLimits, by: string | null): Promise<boolean> {
      const id = text('record.id', record?.id, MAX_SESSION_ID);
      const l = checkSessionLimits(limits);
      const holder = by === null ? '' : node(by);
      const args = [record.tokenHash, record.identityHash, record.expiresAt ?? '', l.ttlMs, l.results, l.resultChars, l.pushes, l.pushChars, holder, record.codec === undefined ? '' : text('record.codec', record.codec, 32)];
      return (await run('sessions.create', scripts.create, id, args)) === 1;
    },

    async get(id: string): Promise<StoredSession | undefined> {
      sid(id);
      const [r] = keys(id);
      const values = await command('sessions.get', () => client.hmget(r as string, ...recordFields));
      if (values[0] === null) return undefined;
      const h: Record<string, string | undefined> = {};
      recordFields.forEach((field, i) => (h[field] = values[i] ?? undefined));
      if (h.th === undefined) return undefined;
      const n = (field: string) => Number(h[field]);
      return {
        record: {
          id,
          tokenHash: h.th,
          previousTokenHash: h.pth === '' || h.pth === undefined ? null : h.pth,
          identityHash: h.ih as string,
          expiresAt: h.exp === '' || h.exp === undefined ? null : Number(h.exp),
          ...(h.cd === '' || h.cd === undefined ? {} : { codec: h.cd }),
        },
        holder: h.holder === '' || h.holder === undefined ? null : h.holder,
        accepted: n('acc'),
        pushSeq: n('ps'),
        pushAcked: n('pa'),
        limits: { ttlMs: n('ttl'), results: n('rn'), resultChars: n('rc'), pushes: n('pn'), pushChars: n('pc') },
      };
    },

    async rotate(id: string, expectedTokenHash: string, next: TokenRotation, by: string): Promise<RotateResult> {
      sid(id);
      node(by);
      if (typeof next !== 'object' || next === null) throw new TypeError('next must be { tokenHash, previousTokenHash }');
      const tokenHash = text('next.tokenHash', next.tokenHash, 256);
      const previous = next.previousTokenHash === null ? '' : text('next.previousTokenHash', next.previousTokenHash, 256);
      const [ok, holder] = (await run('sessions.rotate', scripts.rotate, id, [String(expectedTokenHash), tokenHash, previous, by])) as [number, string?];
      return ok === 1 ? { ok: true, previousHolder: holder === '' || holder === undefined ? null : holder } : { ok: false };
    },

    async detach(id: string, by: string, expiresAt: number): Promise<boolean> {
      sid(id);
      node(by);
      integer('expiresAt', expiresAt, 0);
      return (await run('sessions.detach', scripts.detach, id, [by, expiresAt])) === 1;
    },

    async touch(id: string): Promise<boolean> {
      sid(id);
      return (await run('sessions.touch', scripts.touch, id, [])) === 1;
    },

    async refresh(id: string, by: string): Promise<string | null | undefined> {
      sid(id);
      node(by);
      const holder = (await command('sessions.refresh', () => refreshOne(keys(id), [by]))) as string | null;
      if (holder === null) return undefined;
      return holder === '' ? null : holder;
    },

    async end(id: string): Promise<void> {
      sid(id);
      await command('sessions.end', () => client.del(...keys(id)));
    },

    async claim(id: string, seq: number, messageId: string, by: string): Promise<ClaimResult> {
      sid(id);
      integer('seq', seq, 1);
      text('id', messageId, MAX_SESSION_ID);
      node(by);
      return settle(id, seq, messageId, by, (await run('sessions.claim', scripts.claim, id, [seq, messageId, by])) as ClaimReply);
    },

    async complete(id: string, seq: number, by: string, outcome: StoredOutcome): Promise<boolean> {
      sid(id);
      integer('seq', seq, 1);
      node(by);
      return (await run('sessions.complete', scripts.complete, id, completeArgs(seq, by, outcome))) === 1;
    },

    async completeThenClaim(id: string, seq: number, by: string, outcome: StoredOutcome, next: { readonly seq: number; readonly id: string }): Promise<CompleteClaimResult> {
      sid(id);
      integer('seq', seq, 1);
      node(by);
      if (typeof next !== 'object' || next === null) throw new TypeError('next must be { seq, id }');
      integer('next.seq', next.seq, 1);
      text('next.id', next.id, MAX_SESSION_ID);
      if (next.seq === seq) throw new TypeError('next.seq must differ from seq');
      const [kept, ...reply] = (await run('sessions.completeThenClaim', scripts.completeClaim, id, [...completeArgs(seq, by, outcome), next.seq, next.id])) as [number, ...ClaimReply];
      return { kept: kept === 1, next: await settle(id, next.seq, next.id, by, reply) };
    },

    async completeThenClaimMany(id: string, by: string, done: readonly DoneMessage[], next: readonly NextMessage[]): Promise<CompleteClaimManyResult> {
      sid(id);
      node(by);
      if (!Array.isArray(done) || !Array.isArray(next)) throw new TypeError('done and next must be arrays');
      if (done.length > MAX_BATCH || next.length > MAX_BATCH) throw new TypeError(`at most ${MAX_BATCH} messages in done and in next`);
      const args: (string | number)[] = [by, done.length];
      const seqs = new Set<number>();
      for (const d of done) {
        integer('done.seq', d?.seq, 1);
        if (seqs.has(d.seq)) throw new TypeError(`done.seq ${d.seq} twice`);
        seqs.add(d.seq);
        const [seq, , stored, size] = completeArgs(d.seq, by, d.outcome);
        args.push(seq as number, stored as string, size as number);
      }
      seqs.clear();
      for (const n of next) {
        integer('next.seq', n?.seq, 1);
        text('next.id', n.id, MAX_SESSION_ID);
        if (seqs.has(n.seq)) throw new TypeError(`next.seq ${n.seq} twice`);
        seqs.add(n.seq);
        args.push(n.seq);
      }
      if (done.length === 0 && next.length === 0) return { kept: [], next: [] };
      const reply = (await run('sessions.completeThenClaimMany', scripts.completeClaimMany, id, args)) as number | [number[], ClaimReply[]];
      // A count: every done stored, every next claimed.
      if (typeof reply === 'number') {
        if (reply !== next.length) throw new Error(`redisEngine.sessions.completeThenClaimMany(): the script claimed ${reply} of ${next.length}`);
        return { kept: done.map(() => true), next: next.map(() => ({ status: 'claimed', redelivered: false })) };
      }
      const [kept, replies] = reply;
      const claims: ClaimResult[] = [];
      // In seq order: a takeover (rare) is a call of its own.
      for (let i = 0; i < next.length; i++) claims.push(await settle(id, next[i]!.seq, next[i]!.id, by, replies[i] as ClaimReply));
      return { kept: kept.map((k) => k === 1), next: claims };
    },

    async release(id: string, seq: number, by: string): Promise<boolean> {
      sid(id);
      integer('seq', seq, 1);
      node(by);
      return (await run('sessions.release', scripts.release, id, [seq, by, RELEASED])) === 1;
    },
  };

  function completeArgs(seq: number, by: string, outcome: StoredOutcome): (string | number)[] {
    if (typeof outcome !== 'object' || outcome === null || typeof outcome.data !== 'string') throw new TypeError('outcome must be { error, data: string }');
    return [seq, by, (outcome.error === true ? '1' : '0') + outcome.data, outcome.data.length];
  }

  /** A claim script's reply as a `ClaimResult`: a claim held by a dead node is taken over here (two steps, see above). */
  async function settle(id: string, seq: number, messageId: string, by: string, first: ClaimReply): Promise<ClaimResult> {
    let reply = first;
    for (let tries = 0; ; tries++) {
      switch (reply[0]) {
        case 'u':
          return { status: 'unknown-session' };
        case 'c':
          return { status: 'claimed', redelivered: false };
        case 'd':
          return { status: 'duplicate', outcome: typeof reply[1] === 'string' ? outcomeOf(reply[1]) : undefined };
      }
      const holder = reply[1] as string;
      const alive = await nodes.alive(holder);
      if (alive || holder === by || tries >= MAX_TAKEOVER_TRIES) return { status: 'running-elsewhere', node: holder, alive };
      const taken = await run('sessions.claim', scripts.takeover, id, [seq, holder, by]);
      if (taken === 'c') return { status: 'claimed', redelivered: true };
      if (taken === 'l') return { status: 'lost' };
      // 'x': completed or taken by another node meanwhile; look again.
      reply = (await run('sessions.claim', scripts.claim, id, [seq, messageId, by])) as ClaimReply;
    }
  }

  const pushes: PushEngine = {
    async append(id: string, data: string): Promise<number | 'full' | undefined> {
      sid(id);
      if (typeof data !== 'string') throw new TypeError('data must be a string (the push, encoded)');
      const seq = (await run('pushes.append', scripts.append, id, [data, data.length])) as number;
      return seq === -1 ? undefined : seq === 0 ? 'full' : seq;
    },

    async appendMany(id: string, data: readonly string[]): Promise<(number | 'full' | undefined)[]> {
      sid(id);
      if (!Array.isArray(data)) throw new TypeError('data must be an array of strings (the pushes, encoded)');
      if (data.length > MAX_BATCH) throw new TypeError(`at most ${MAX_BATCH} pushes in one appendMany`);
      if (data.length === 0) return [];
      const args: (string | number)[] = [];
      for (const d of data) {
        if (typeof d !== 'string') throw new TypeError('data must be an array of strings (the pushes, encoded)');
        args.push(d, d.length);
      }
      const seqs = (await run('pushes.appendMany', scripts.appendMany, id, args)) as number[];
      if (!Array.isArray(seqs) || seqs.length !== data.length) throw new Error(`redisEngine.pushes.appendMany(): the script answered ${seqs?.length} of ${data.length}`);
      return seqs.map((seq) => (seq === -1 ? undefined : seq === 0 ? 'full' : seq));
    },

    async ack(id: string, seq: number): Promise<number> {
      sid(id);
      integer('seq', seq, 0);
      return (await run('pushes.ack', scripts.ack, id, [seq])) as number;
    },

    async list(id: string, after = 0, limit = Infinity): Promise<StoredPush[]> {
      sid(id);
      integer('after', after, 0);
      if (limit !== Infinity) integer('limit', limit, 0);
      if (limit === 0) return [];
      const [first, ...entries] = (await run('pushes.list', scripts.list, id, [after, limit === Infinity ? -1 : limit])) as [number, ...string[]];
      return entries.map((e, i) => ({ seq: first + i, data: e.slice(e.indexOf(':') + 1) }));
    },
  };

  return { sessions, pushes, nodes };
}
