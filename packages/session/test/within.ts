import pTimeout from 'p-timeout';

const WAIT_MS = 10_000;

/** A stuck wait fails naming what it waited for, well before the test's own 30 s timeout. */
export const within = <T>(promise: Promise<T>, what: string): Promise<T> =>
  pTimeout(promise, { milliseconds: WAIT_MS, message: `waited ${WAIT_MS} ms for ${what}` });
