import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The page: index.html + src/page, built to dist/page (the server serves it from there).
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [react()],
  build: {
    outDir: 'dist/page',
    emptyOutDir: true,
    target: 'es2022',
    // The transport imports `ws` only where there is no global WebSocket: never in a browser.
    rolldownOptions: { external: ['ws'] },
  },
});
