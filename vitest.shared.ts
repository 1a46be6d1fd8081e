import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const pkg = (name: string) => fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url));

/** Tests run on source: every `@lifeline/*` import resolves to its package's `src/`. */
export const shared = defineConfig({
  resolve: {
    alias: {
      // Subpath entries first: an alias also matches what starts with it.
      '@lifeline/session/file-outbox': fileURLToPath(new URL('./packages/session/src/file-outbox.ts', import.meta.url)),
      '@lifeline/sdk/file-outbox': fileURLToPath(new URL('./packages/sdk/src/file-outbox.ts', import.meta.url)),
      '@lifeline/protocol': pkg('protocol'),
      '@lifeline/transport': pkg('transport'),
      '@lifeline/session': pkg('session'),
      '@lifeline/server': pkg('server'),
      '@lifeline/sdk': pkg('sdk'),
      '@lifeline/fault-proxy': pkg('fault-proxy'),
      '@lifeline/metrics': pkg('metrics'),
    },
  },
  test: {
    testTimeout: 30_000,
    hookTimeout: 15_000,
    include: ['test/**/*.test.ts'],
    // The JSON report feeds scripts/test-summary.mjs, which prints the run's closing line.
    reporters: ['default', ['json', { outputFile: '.vitest-report.json' }]],
    typecheck: { enabled: false },
  },
});
