import { defineConfig, mergeConfig } from 'vitest/config';
import { shared } from '../../vitest.shared.ts';

// Hooks render in a DOM (happy-dom); the server and the client's sockets are Node's, on 127.0.0.1.
export default mergeConfig(
  shared,
  defineConfig({
    test: {
      environment: 'happy-dom',
      include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    },
  }),
);
