import { defineConfig } from 'vitest/config';

// Not the shared config: these tests use the BUILT packages as npm tarballs, never the sources.
export default defineConfig({
  test: {
    testTimeout: 180_000,
    hookTimeout: 240_000,
    include: ['test/**/*.test.ts'],
    reporters: ['default', ['json', { outputFile: '.vitest-report.json' }]],
  },
});
