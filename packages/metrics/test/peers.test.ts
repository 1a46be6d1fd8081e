import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';

// Make the optional peers unloadable: importing the package must not notice.
vi.mock('prom-client', () => {
  throw new Error('prom-client is not installed');
});
vi.mock('@opentelemetry/api', () => {
  throw new Error('@opentelemetry/api is not installed');
});

const srcDir = fileURLToPath(new URL('../src/', import.meta.url));
const peers = ['prom-client', '@opentelemetry/api'];

describe('optional peers', () => {
  it('are referenced by `import type` only in src', () => {
    for (const file of readdirSync(srcDir).filter((f) => f.endsWith('.ts'))) {
      const text = readFileSync(srcDir + file, 'utf8');
      for (const peer of peers) {
        const quoted = `['"]${peer.replace('/', '\\/')}['"]`;
        // Any `from 'peer'` must belong to an `import type { … } from 'peer'` statement.
        const anyImport = new RegExp(`(?:from|import)\\s*\\(?\\s*${quoted}`, 'g');
        const typeImport = new RegExp(`import\\s+type\\s+\\{[^}]*\\}\\s*from\\s*${quoted}`, 'g');
        const all = text.match(anyImport)?.length ?? 0;
        const typed = text.match(typeImport)?.length ?? 0;
        expect(all, `${file} loads ${peer} at runtime`).toBe(typed);
        expect(text).not.toMatch(new RegExp(`require\\(\\s*${quoted}`));
      }
    }
  });

  it('are not needed to load the package, snapshot or serve Prometheus text', async () => {
    await expect(import('prom-client')).rejects.toThrow();
    await expect(import('@opentelemetry/api')).rejects.toThrow();
    const { metrics } = await import('../src/index.js');
    const m = metrics();
    m.onAck({ id: 'a', seq: 1, queuedAt: 0, sentAt: 1, at: 3 }, { side: 'client', sessionId: 's' });
    expect(m.snapshot().ackLatency.count).toBe(1);
    expect(await m.prometheus()).toContain('lifeline_ack_latency_seconds_count{side="client"} 1');
  });
});
