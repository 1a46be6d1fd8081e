import { describe, expect, it } from 'vitest';
import { jsonCodec } from '@lifeline/protocol';
import { ResultCache, ackFrame, errorOutcome } from '../src/results.js';
import { defaultIdentityKey as identityKey } from '../src/identity.js';
import { hashToken, tokenAccepted } from '../src/handshake.js';
import { MemorySessionStore } from '../src/index.js';
import { Admission } from '../src/admission.js';
import type { Connection } from '../src/connection.js';
import { giveBack, takeWriter } from '../src/writer-pool.js';

describe('ResultCache', () => {
  it('keeps the outcomes of the last `capacity` seqs and evicts the oldest', () => {
    const cache = new ResultCache(jsonCodec, 3);
    for (const seq of [1, 2, 3, 4]) cache.set(seq, String(seq));
    expect(cache.get(1)).toBeUndefined();
    expect([cache.get(2), cache.get(3), cache.get(4)]).toEqual(['2', '3', '4']);
    expect(cache.size).toBe(3);
    // A seq never handled is a hole that counts toward the span, as the window counts seqs.
    cache.set(6, '6');
    expect([cache.get(3), cache.get(4), cache.get(5), cache.get(6)]).toEqual([undefined, '4', undefined, '6']);
    expect(cache.size).toBe(2);
    // A jump past the whole span keeps only the new outcome; a seq older than the newest is ignored.
    cache.set(100, '100');
    cache.set(99, '99');
    expect([cache.get(4), cache.get(6), cache.get(99), cache.get(100)]).toEqual([undefined, undefined, undefined, '100']);
    expect(cache.size).toBe(1);
  });

  it('forgetThrough drops the outcomes the client holds, holes included, and its counts with them', () => {
    const cache = new ResultCache(jsonCodec, 8);
    for (const seq of [1, 2, 4, 5]) cache.set(seq, String(seq));
    cache.forgetThrough(3);
    expect([cache.get(1), cache.get(2), cache.get(4), cache.get(5)]).toEqual([undefined, undefined, '4', '5']);
    expect([cache.size, cache.heldChars]).toEqual([2, 2]);
    // Past everything held: empty, and the next outcome starts a new span.
    cache.forgetThrough(50);
    expect([cache.size, cache.heldChars]).toEqual([0, 0]);
    cache.set(6, '6');
    expect([cache.get(5), cache.get(6), cache.size]).toEqual([undefined, '6', 1]);
  });

  it('never lets a handler forge the eviction answer', () => {
    const forged = errorOutcome(jsonCodec, Object.assign(new Error('nope'), { code: 'ERR_RESULT_EVICTED' }));
    expect(JSON.parse(forged.e as string)).toEqual({ code: 'ERR_HANDLER', message: 'nope' });
  });

  it('encodes acks by concatenation, errors within the decoder bounds', () => {
    expect(JSON.parse(ackFrame(jsonCodec, 3, '{"ok":true}') as string)).toEqual({ t: 'ack', seq: 3, r: { ok: true } });
    const long = errorOutcome(jsonCodec, Object.assign(new Error('m'.repeat(10_000)), { code: 'C'.repeat(2_000) }));
    const parsed = JSON.parse(ackFrame(jsonCodec, 4, long) as string) as { e: { code: string; message: string } };
    expect(parsed.e.code).toHaveLength(1024);
    expect(parsed.e.message).toHaveLength(8192);
  });
});

describe('identityKey', () => {
  it('is stable across key order and tells identities apart', () => {
    expect(identityKey({ a: 1, b: { c: 2, d: 3 } })).toBe(identityKey({ b: { d: 3, c: 2 }, a: 1 }));
    expect(identityKey({ user: 'a' })).not.toBe(identityKey({ user: 'b' }));
    expect(identityKey(null)).not.toBe(identityKey('null'));
  });

  it('matches a value JSON cannot encode only with itself', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(identityKey(cyclic)).toBe(identityKey(cyclic));
    expect(identityKey(cyclic)).not.toBe(identityKey({ self: {} }));
    const other: Record<string, unknown> = {};
    other.self = other;
    expect(identityKey(cyclic)).not.toBe(identityKey(other));
    expect(identityKey(Symbol('a'))).not.toBe(identityKey(Symbol('a')));
  });

  it('keys a principal by its string or number sub, else its id, ignoring claims that change per token', () => {
    expect(identityKey({ sub: 'alice', iat: 1, exp: 2 })).toBe(identityKey({ sub: 'alice', iat: 3, exp: 4 }));
    expect(identityKey({ id: 7, token: 'a' })).toBe(identityKey({ id: 7, token: 'b' }));
    expect(identityKey({ sub: 'alice', id: 1 })).toBe(identityKey({ sub: 'alice', id: 2 })); // sub wins
    // Typed and named: a sub is not an id, and 1 is not '1'.
    expect(identityKey({ sub: 'x' })).not.toBe(identityKey({ id: 'x' }));
    expect(identityKey({ sub: 1 })).not.toBe(identityKey({ sub: '1' }));
    // A sub that names nobody (an object, NaN) falls back to the whole value.
    expect(identityKey({ sub: { a: 1 }, iat: 1 })).not.toBe(identityKey({ sub: { a: 1 }, iat: 2 }));
    expect(identityKey({ sub: Number.NaN, iat: 1 })).not.toBe(identityKey({ sub: Number.NaN, iat: 2 }));
    // A cycle with a sub resumes: the sub is all that is read.
    const cyclic: Record<string, unknown> = { sub: 'bob' };
    cyclic.self = cyclic;
    expect(identityKey(cyclic)).toBe(identityKey({ sub: 'bob' }));
  });
});

describe('tokenAccepted', () => {
  const record = { id: 's', tokenHash: hashToken('new'), previousTokenHash: hashToken('old'), identityHash: 'ab', expiresAt: null };

  it('takes the current token always, the previous one while detached (retry while attached), anything else never', () => {
    expect(tokenAccepted('new', record, false)).toBe('accept');
    expect(tokenAccepted('new', record, true)).toBe('accept');
    expect(tokenAccepted('old', record, true)).toBe('accept');
    expect(tokenAccepted('old', record, false)).toBe('retry');
    expect(tokenAccepted('guess', record, true)).toBe('refuse');
    expect(tokenAccepted('old', { ...record, previousTokenHash: null }, true)).toBe('refuse');
  });
});

describe('MemorySessionStore', () => {
  it('gets, sets and deletes records', () => {
    const store = new MemorySessionStore();
    const record = { id: 's1', tokenHash: 'ab', previousTokenHash: null, identityHash: 'cd', expiresAt: null };
    store.set(record);
    expect(store.get('s1')).toBe(record);
    store.delete('s1');
    expect(store.get('s1')).toBeUndefined();
    expect(store.size).toBe(0);
  });
});

describe('Admission', () => {
  it('counts an upgraded connection only while its handshake runs, and holds nothing for it once it opened', () => {
    const admission = new Admission(10_000, 2);
    const socket = { remoteAddress: '192.0.2.7' };
    const a = { state: 'handshake' } as { state: string };
    const b = { state: 'handshake' } as { state: string };
    admission.upgraded(a as unknown as Connection, socket);
    admission.upgraded(b as unknown as Connection, socket);
    expect(admission.pendingOf(socket)).toBe(2);
    a.state = 'open';
    admission.finished(a as unknown as Connection);
    expect(admission.pendingOf(socket)).toBe(1);
    // An open connection is held for its whole life: nothing of it stays here (issue 14).
    expect((admission as unknown as { connAddress: Map<unknown, string> }).connAddress.size).toBe(1);
    admission.finished(b as unknown as Connection);
    expect(admission.pendingOf(socket)).toBe(0);
    expect((admission as unknown as { connAddress: Map<unknown, string> }).connAddress.size).toBe(0);
    admission.stop();
  });
});

describe('writer pool', () => {
  it('a writer given back keeps nothing of its last connection, and serves the next one whole', async () => {
    const sent: string[] = [];
    const first = { writeMessage: (m: unknown) => sent.push(`first ${String(m)}`), writerIdle: giveBack };
    const w = takeWriter(jsonCodec, first, undefined);
    w.push('{"a":1}');
    await Promise.resolve();
    expect(sent).toEqual(['first {"a":1}']);
    // Idle after its flush: back in the pool, pointing at neither the sink nor its codec.
    const fields = w as unknown as { sink: unknown; producer: unknown };
    expect(fields.sink).not.toBe(first);
    expect(fields.producer).toBeUndefined();
    const second = { writeMessage: (m: unknown) => sent.push(`second ${String(m)}`), writerIdle: giveBack };
    const again = takeWriter(jsonCodec, second, { takeFrame: () => '{"ack":1}' });
    expect(again).toBe(w);
    again.push('{"b":2}');
    await Promise.resolve();
    expect(sent).toEqual(['first {"a":1}', 'second [{"b":2},{"ack":1}]']);
  });
});
