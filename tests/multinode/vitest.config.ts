import { defineConfig, mergeConfig } from 'vitest/config';
import { shared } from '../../vitest.shared.ts';

// Each test runs several node processes and Redis: one file at a time, so they do not starve
// each other on a small machine.
export default mergeConfig(shared, defineConfig({ test: { fileParallelism: false, testTimeout: 90_000, hookTimeout: 30_000 } }));
