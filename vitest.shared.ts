import { fileURLToPath } from 'node:url';
import type { Plugin } from 'esbuild';
import { defineConfig } from 'vitest/config';

const pkg = (name: string) => fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url));

/** Every `@lifeline/*` import specifier and the source file it stands for; bundlers in tests use it too. */
export const alias: Readonly<Record<string, string>> = {
  // Subpath entries first: an alias also matches what starts with it.
  '@lifeline/protocol/internal': fileURLToPath(new URL('./packages/protocol/src/internal.ts', import.meta.url)),
  '@lifeline/transport/internal': fileURLToPath(new URL('./packages/transport/src/internal.ts', import.meta.url)),
  '@lifeline/session/file-outbox': fileURLToPath(new URL('./packages/session/src/file-outbox.ts', import.meta.url)),
  '@lifeline/sdk/file-outbox': fileURLToPath(new URL('./packages/sdk/src/file-outbox.ts', import.meta.url)),
  '@lifeline/test-kit/browser': fileURLToPath(new URL('./tests/kit/src/browser.ts', import.meta.url)),
  '@lifeline/protocol': pkg('protocol'),
  '@lifeline/transport': pkg('transport'),
  '@lifeline/session': pkg('session'),
  '@lifeline/server': pkg('server'),
  '@lifeline/sdk': pkg('sdk'),
  '@lifeline/fault-proxy': pkg('fault-proxy'),
  '@lifeline/metrics': pkg('metrics'),
  '@lifeline/redis': pkg('redis'),
  '@lifeline/react': pkg('react'),
  // Not a package anyone installs: the helpers every package's tests share (tests/kit).
  '@lifeline/test-kit': fileURLToPath(new URL('./tests/kit/src/index.ts', import.meta.url)),
};

/** For esbuild in tests: bundles resolve `@lifeline/*` through `alias`, so they need no build step. */
export const lifelineSources: Plugin = {
  name: 'lifeline-sources',
  setup(build) {
    build.onResolve({ filter: /^@lifeline\// }, (args) => {
      const path = alias[args.path];
      return path === undefined ? undefined : { path };
    });
  },
};

/** Tests run on source: every `@lifeline/*` import resolves to its package's `src/`. */
export const shared = defineConfig({
  resolve: { alias },
  test: {
    testTimeout: 30_000,
    hookTimeout: 15_000,
    include: ['test/**/*.test.ts'],
    // The JSON report feeds scripts/test-summary.mjs, which prints the run's closing line.
    reporters: ['default', ['json', { outputFile: '.vitest-report.json' }]],
    typecheck: { enabled: false },
  },
});
