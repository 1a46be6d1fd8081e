import { expect, it } from 'vitest';
import { MiB, memory } from '@lifeline/test-kit';
import { metrics } from '../src/index.js';

// docs/bounds.md: a peer that opens many sessions must not make the plugin keep state per session
// forever. The plugin has no "session closed" hook, so the bound is the LRU of `maxSessions`.

it('keeps at most maxSessions per-session scopes (about 8 KB each) however many sessions come and go', () => {
  const before = memory().heap;
  const m = metrics();
  const sessions = 5_000;
  for (let s = 0; s < sessions; s++) {
    const ctx = { side: 'server' as const, sessionId: `session-${s}` };
    const at = performance.now();
    // Every figure of the scope touched, with values that make the histograms as wide as they get.
    m.onSend({ id: 'a', bytes: 1, at }, ctx);
    m.onTransmit({ id: 'a', seq: 1, queuedAt: at - 1, at, retransmit: false }, ctx);
    m.onAck({ id: 'a', seq: 1, queuedAt: at - 3_000_000, sentAt: at - 3_000_000, at }, ctx);
    m.onDeliver({ id: 'b', seq: 1, sentAt: Date.now() - 100_000, wallAt: Date.now(), at }, ctx);
    m.onResume({ resumed: true, replayed: 0, downtimeMs: 3_000_000, at }, ctx);
    m.onClock({ rttMs: 1, offsetMs: 1, at }, ctx);
  }
  const growth = memory().heap - before;
  const kept = m.sessions({ side: 'server' }).length;
  console.log(`${sessions} sessions: ${kept} scopes kept, heap +${(growth / MiB).toFixed(1)} MB (${(growth / kept / 1024).toFixed(1)} KB each)`);
  expect(kept).toBe(1_000);
  expect(m.snapshot({ sessionId: 'session-0' })).toBeUndefined();
  expect(growth).toBeLessThan(32 * MiB);
});
