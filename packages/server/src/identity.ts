import { createHash } from 'node:crypto';
import { nanoid } from 'nanoid';

/**
 * Which identity a session belongs to (protocol.md, "Resume"; issue 9). A session is bound to a
 * stable key of what `authenticate` returned, not to the whole value: claims that change with
 * every token (`iat`, `exp`, a nonce) must not turn each reconnect with a refreshed token into
 * a new session, and a value JSON cannot encode (a cycle) must still be able to resume.
 */

const sortKeys = (_key: string, value: unknown): unknown => {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  // No prototype: assigning '__proto__' on a plain object would call the setter and drop the key,
  // letting two different identities share one key (found by the handshake fuzz).
  const sorted: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const k of Object.keys(value).sort()) sorted[k] = (value as Record<string, unknown>)[k];
  return sorted;
};

const opaqueKeys = new WeakMap<object, string>();

/** A `sub` or `id` claim that names a principal: a string, or a finite number (typed, so 1 ≠ '1'). */
function claim(name: 'sub' | 'id', value: unknown): string | undefined {
  if (typeof value === 'string') return `${name}:s:${value}`;
  if (typeof value === 'number' && Number.isFinite(value)) return `${name}:n:${value}`;
  return undefined;
}

/**
 * The default `identityKey`: an object's string or number `sub` (a JWT subject), else its `id`,
 * else JSON with sorted object keys (so `{ a, b }` and `{ b, a }` are the same principal). A
 * value JSON cannot encode (a cycle, a BigInt inside) matches only itself, the same object.
 */
export function defaultIdentityKey(identity: unknown): string {
  if (typeof identity === 'object' && identity !== null) {
    const { sub, id } = identity as { sub?: unknown; id?: unknown };
    const key = claim('sub', sub) ?? claim('id', id);
    if (key !== undefined) return key;
  }
  try {
    const json = JSON.stringify(identity, sortKeys);
    if (json !== undefined) return `j:${json}`;
  } catch {
    // fall through: cycles, BigInt
  }
  if ((typeof identity === 'object' && identity !== null) || typeof identity === 'function') {
    let key = opaqueKeys.get(identity);
    if (key === undefined) opaqueKeys.set(identity, (key = `o:${nanoid()}`));
    return key;
  }
  // A symbol (or a BigInt at the top): its description could be shared by another, so it matches nothing.
  return typeof identity === 'bigint' ? `b:${identity}` : `o:${nanoid()}`;
}

/**
 * What is stored and indexed for an identity: hex SHA-256 of its key. The key may hold the
 * identity in clear (sorted JSON of claims, maybe a bearer token), and a session store may be
 * shared (Redis): only the digest leaves the process.
 */
export function identityHash(key: string): string {
  // The last one is kept: the sessions of one identity (every session of a server without
  // `authenticate`) then share one 80-byte string in their records (issue 14), and a handshake
  // of the same identity as the last costs no hash.
  if (key !== lastKey) {
    lastHash = createHash('sha256').update(key).digest('hex');
    lastKey = key;
  }
  return lastHash;
}

let lastKey: string | undefined;
let lastHash = '';
