/**
 * Message ids: 21 characters of nanoid's URL-safe alphabet from a pool of
 * `crypto.getRandomValues` bytes (126 random bits, the same ids `nanoid()` makes). Built with
 * one `String.fromCharCode` call, so the id is one flat string: `nanoid()` appends a character
 * at a time, which leaves a chain of concatenations that costs several hundred bytes for every
 * message still waiting for its ack, and about four times the CPU.
 */
const ALPHABET = 'useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict';
const CODES: readonly number[] = Array.from(ALPHABET, (c) => c.charCodeAt(0));
const SIZE = 21;
/**
 * Ids per refill of the pool. A `getRandomValues` call costs about the same for 2.7 KB as for
 * 43 KB (12–18 µs in a busy process, up to ~60 µs in a round trip), so with nanoid's 128 ids a
 * pool the refill made every 128th round trip of a sequential caller about 60 µs slower: 0.8 % of
 * them, which is where a p99 reads (issue 14). 3,072 ids are 64,512 bytes, just under the
 * 65,536 bytes that one `getRandomValues` call may fill.
 */
const IDS_PER_POOL = 3_072;
const POOL = SIZE * IDS_PER_POOL;
const pool = new Uint8Array(POOL);
let offset = POOL;

/** A new random message id (21 URL-safe characters, no JSON escaping needed). */
export function messageId(): string {
  if (offset === POOL) {
    globalThis.crypto.getRandomValues(pool);
    offset = 0;
  }
  const p = pool;
  const o = offset;
  offset = o + SIZE;
  const c = CODES;
  return String.fromCharCode(
    c[(p[o] as number) & 63] as number,
    c[(p[o + 1] as number) & 63] as number,
    c[(p[o + 2] as number) & 63] as number,
    c[(p[o + 3] as number) & 63] as number,
    c[(p[o + 4] as number) & 63] as number,
    c[(p[o + 5] as number) & 63] as number,
    c[(p[o + 6] as number) & 63] as number,
    c[(p[o + 7] as number) & 63] as number,
    c[(p[o + 8] as number) & 63] as number,
    c[(p[o + 9] as number) & 63] as number,
    c[(p[o + 10] as number) & 63] as number,
    c[(p[o + 11] as number) & 63] as number,
    c[(p[o + 12] as number) & 63] as number,
    c[(p[o + 13] as number) & 63] as number,
    c[(p[o + 14] as number) & 63] as number,
    c[(p[o + 15] as number) & 63] as number,
    c[(p[o + 16] as number) & 63] as number,
    c[(p[o + 17] as number) & 63] as number,
    c[(p[o + 18] as number) & 63] as number,
    c[(p[o + 19] as number) & 63] as number,
    c[(p[o + 20] as number) & 63] as number,
  );
}

/**
 * `text` as one flat string. JSON.stringify and template literals return a tree of string
 * pieces that V8 flattens only when something reads it; a string kept for long (a payload
 * waiting for its ack) is flattened once so it holds its characters and nothing else.
 */
export function flatten(text: string): string {
  text.charCodeAt(0);
  return text;
}
