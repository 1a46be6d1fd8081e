const cleanups: Array<() => unknown> = [];

/** Have `closeAll` run `fn`: everything a helper opens is closed after the test. */
export function onCleanup(fn: () => unknown): void {
  cleanups.push(fn);
}

/**
 * Close everything the test opened, newest first (call from afterEach). Every cleanup runs even
 * when one fails; the failures are thrown together at the end.
 */
export async function closeAll(): Promise<void> {
  const errors: unknown[] = [];
  while (cleanups.length > 0) {
    try {
      await cleanups.pop()?.();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed');
}
