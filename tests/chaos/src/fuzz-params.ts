import type fc from 'fast-check';

/** fast-check parameters for `runs` runs; FUZZ_SEED and FUZZ_PATH replay a reported failure. */
export function fuzzParams<T>(runs: number): fc.Parameters<T> {
  return {
    numRuns: runs,
    ...(process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED) } : {}),
    ...(process.env.FUZZ_PATH ? { path: process.env.FUZZ_PATH } : {}),
  };
}
