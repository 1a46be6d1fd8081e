/** Timer helpers shared by the client and the server (every package's timers come through here). */

/** `timer`, kept from holding the process open on its own (a browser's timers have no `unref`). */
export function unref<T>(timer: T): T {
  (timer as { unref?: () => void }).unref?.();
  return timer;
}

/**
 * Timeouts judged after the I/O already waiting. libuv runs the timers phase before the poll
 * phase, so after a stall (a long GC, or a process not scheduled on a busy machine) a timer whose
 * time passed meanwhile fires before the bytes that arrived in time are read: a deadline would
 * expire an upgrade request, a `hello`, a `welcome` or an ack that came before it. Node's
 * `setImmediate` runs after the poll phase; browsers have only `setTimeout`.
 */
export const afterIo: (fn: () => void) => unknown =
  typeof setImmediate === 'function' ? (fn) => setImmediate(fn) : (fn) => setTimeout(fn, 0);

interface AfterIoTimer {
  timer: ReturnType<typeof setTimeout> | undefined;
  cleared: boolean;
}

/**
 * A `setTimeout`/`clearTimeout` pair whose callback runs after the I/O waiting when the delay
 * ends, and not at all if cleared meanwhile (for p-timeout's `customTimers`: what that I/O
 * settles clears the timer before the verdict).
 */
export const afterIoTimers = {
  setTimeout(fn: () => void, ms: number): AfterIoTimer {
    const handle: AfterIoTimer = { timer: undefined, cleared: false };
    handle.timer = setTimeout(() => {
      handle.timer = undefined;
      afterIo(() => {
        if (!handle.cleared) fn();
      });
    }, ms);
    return handle;
  },
  clearTimeout(handle: AfterIoTimer | undefined): void {
    if (handle === undefined) return;
    handle.cleared = true;
    if (handle.timer !== undefined) clearTimeout(handle.timer);
  },
};
