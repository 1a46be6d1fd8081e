import { describe, expect, it } from 'vitest';
import { flatten, messageId } from '../src/internal.js';

describe('messageId', () => {
  it('makes 21-character URL-safe ids (nanoid’s alphabet), all different', () => {
    const ids = new Set<string>();
    // More than two pools of random bytes (3,072 ids each), so the refill is exercised too.
    for (let i = 0; i < 7_000; i++) {
      const id = messageId();
      expect(id).toMatch(/^[A-Za-z0-9_-]{21}$/);
      ids.add(id);
    }
    expect(ids.size).toBe(7_000);
  });

  it('flatten returns the same text', () => {
    const text = JSON.stringify({ a: 'x'.repeat(100), b: [1, 2, 3] });
    expect(flatten(text)).toBe(text);
    expect(flatten('')).toBe('');
  });
});
