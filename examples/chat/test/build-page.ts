import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { alias } from '../../../vitest.shared.js';

const CONFIG = fileURLToPath(new URL('../vite.config.ts', import.meta.url));

/**
 * Builds the page with Vite's JS API into `outDir`, from the sources of the `@lifeline/*`
 * packages (the same aliases as the tests), so the test needs no earlier build and always
 * runs the page made of the code under test.
 */
export async function buildPage(outDir: string): Promise<void> {
  // vitest sets NODE_ENV=test, and Vite would then build for development (React's dev JSX runtime).
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({
      configFile: CONFIG,
      logLevel: 'warn',
      mode: 'production',
      resolve: { alias: { ...alias } },
      build: { outDir, emptyOutDir: true },
    });
  } finally {
    process.env.NODE_ENV = nodeEnv;
  }
}
