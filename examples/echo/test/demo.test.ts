import { describe, expect, it } from 'vitest';
// @ts-expect-error -- the demo is plain JavaScript, run by `npm run demo`.
import { runDemo } from '../demo.mjs';

describe('echo demo', () => {
  it('acks every message once and handles each once across a cut connection', async () => {
    const lines: string[] = [];
    const summary = await runDemo({ log: (line: string) => lines.push(line) });
    expect(summary).toMatchObject({ sent: 20, acked: 20, handlerCalls: 20, ok: true });
    expect(lines.some((l) => l.includes('reconnecting'))).toBe(true);
    expect(lines.some((l) => l.includes('resumed'))).toBe(true);
  });
});
