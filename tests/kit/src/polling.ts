/** One turn of the event loop: what is already readable or written gets handled first. */
export const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Resolves once `condition()` holds, checked every `everyMs`; rejects naming `what` after
 * `timeoutMs`. Only for state no event announces (a socket paused, sessions detached); where an
 * event exists, `until` waits on it instead.
 */
export async function poll(condition: () => boolean, what: string, timeoutMs = 5_000, everyMs = 5): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
