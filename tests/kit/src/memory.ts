import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export const MiB = 1024 * 1024;

/** `bytes` in MiB with one decimal, for the figures the tests print. */
export const mib = (bytes: number): string => (bytes / MiB).toFixed(1);

/** What the process holds; `heap` is `heapUsed`, the name the printed figures use. */
export interface Memory extends NodeJS.MemoryUsage {
  readonly heap: number;
}

let gc: (() => void) | undefined;

/** A full collection, so figures are what is held, not garbage (vitest runs without --expose-gc). */
function collect(): void {
  if (gc === undefined) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
  gc();
}

/** Memory after a full collection; printed with `label` when given (the test output is the measurement). */
export function memory(label?: string): Memory {
  collect();
  const m = process.memoryUsage();
  if (label !== undefined) console.log(`${label}: heap ${mib(m.heapUsed)} MiB, rss ${mib(m.rss)} MiB`);
  return { ...m, heap: m.heapUsed };
}

/** Print the figures before and after `what`; returns the growth of heap + external. */
export function report(what: string, before: Memory, after: Memory, extra = ''): number {
  console.log(
    `${what}: heap ${mib(before.heap)} → ${mib(after.heap)} MiB, external ${mib(before.external)} → ${mib(after.external)} MiB, ` +
      `rss ${mib(before.rss)} → ${mib(after.rss)} MiB${extra ? `; ${extra}` : ''}`,
  );
  return after.heap + after.external - (before.heap + before.external);
}
