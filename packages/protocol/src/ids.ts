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
const POOL = SIZE * 128;
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
