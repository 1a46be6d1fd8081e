/** How long a wait lasts by default: a stuck wait fails naming what it waited for, well before the test's own 30 s timeout. */
export const WAIT_MS = 10_000;

/** `promise`, or a rejection naming `what` after `timeoutMs`; leaves no timer behind. */
export function within<T>(promise: Promise<T>, what: string, timeoutMs = WAIT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`waited ${timeoutMs} ms for ${what}`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
