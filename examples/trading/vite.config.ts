// The page's build. `@lifeline/*` resolve to their sources (as in the tests), so building the page
// needs no package build first; `ws` stays out (the transport imports it only outside browsers).
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig, type InlineConfig } from 'vite';
import { alias } from '../../vitest.shared.ts';

const root = fileURLToPath(new URL('.', import.meta.url));

/** The page's Vite config, writing to `outDir` (the test builds into a temp directory). */
export function pageConfig(outDir: string): InlineConfig {
  return {
    root,
    configFile: false,
    logLevel: 'warn',
    plugins: [react()],
    resolve: { alias: { ...alias } },
    build: {
      outDir,
      emptyOutDir: true,
      target: 'es2022',
      sourcemap: false,
      // React, the SDK and the metrics plugin's HDR histograms, in one file: a demo page needs no splitting.
      chunkSizeWarningLimit: 1_000,
      rollupOptions: {
        external: ['ws'],
        // hdr-histogram-js's UMD file has a direct eval on a path the metrics plugin never takes (its WebAssembly loader).
        onwarn(warning, warn) {
          if (warning.code !== 'EVAL') warn(warning);
        },
      },
    },
  };
}

export default defineConfig(pageConfig(fileURLToPath(new URL('./dist/page', import.meta.url))));
