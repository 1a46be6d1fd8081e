/** Bounded waiting: every wait in the bench has a deadline, and a missed one is an error, never a hang. */

export class DeadlineError extends Error {
  constructor(what, ms) {
    super(`${what} did not finish within ${ms} ms`);
    this.name = 'DeadlineError';
  }
}

/** Settles like `promise`, or rejects with `DeadlineError` after `ms`. The timer never keeps the process alive. */
export function withDeadline(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(what, ms)), ms);
    timer.unref?.();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every `everyMs` until it returns true; rejects with `DeadlineError` after `ms`. */
export async function until(check, ms, what, everyMs = 5) {
  const end = performance.now() + ms;
  while (!check()) {
    if (performance.now() > end) throw new DeadlineError(what, ms);
    await sleep(everyMs);
  }
}
