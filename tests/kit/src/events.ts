import type { EventEmitter } from 'eventemitter3';
import { WAIT_MS, within } from './within.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Listener = (...args: any[]) => void;

/** Any emitter, Node's or EventEmitter3's, seen loosely: the typed ones narrow what `next` returns. */
export interface Emitter {
  on(event: string, fn: Listener): unknown;
  once(event: string, fn: Listener): unknown;
  off(event: string, fn: Listener): unknown;
}

/** The event map an EventEmitter3 emitter was declared with (`never` for a loose one). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type EventsOf<E> = E extends EventEmitter<infer M, any> ? M : never;

/** The listener arguments of `event` on `emitter`: typed for a typed emitter, `unknown[]` otherwise. */
export type EventArgs<E, K extends string> = [EventsOf<E>] extends [never]
  ? unknown[]
  : K extends EventEmitter.EventNames<EventsOf<E>>
    ? EventEmitter.EventArgs<EventsOf<E>, K>
    : unknown[];

const loose = (emitter: unknown) => emitter as Emitter;

/** The arguments of the next `event` of `emitter`; rejects naming the event after `timeoutMs`. */
export function next<E, K extends string>(emitter: E, event: K, timeoutMs = WAIT_MS): Promise<EventArgs<E, K>> {
  const target = loose(emitter);
  let onEvent: Listener = () => {};
  const held = new Promise<EventArgs<E, K>>((resolve) => {
    onEvent = (...args) => resolve(args as EventArgs<E, K>);
    target.once(event, onEvent);
  });
  return within(held, `'${event}'`, timeoutMs).finally(() => target.off(event, onEvent));
}

/** The first argument of the next `event` of `emitter`; rejects naming the event after `timeoutMs`. */
export async function nextEvent<T = unknown>(emitter: unknown, event: string, timeoutMs = WAIT_MS): Promise<T> {
  return ((await next(emitter, event, timeoutMs)) as unknown[])[0] as T;
}

/**
 * Resolves once `predicate()` holds, checked now and after every one of `events` of `emitter`;
 * rejects naming `what` (by default, the events) after `timeoutMs`.
 */
export function until(
  emitter: unknown,
  events: string | readonly string[],
  predicate: () => boolean,
  timeoutMs = WAIT_MS,
  what?: string,
): Promise<void> {
  if (predicate()) return Promise.resolve();
  const target = loose(emitter);
  const names = typeof events === 'string' ? [events] : events;
  let check = () => {};
  const held = new Promise<void>((resolve) => {
    check = () => {
      if (predicate()) resolve();
    };
    for (const name of names) target.on(name, check);
  });
  return within(held, what ?? `a condition checked on ${names.map((n) => `'${n}'`).join(' and ')}`, timeoutMs).finally(() => {
    for (const name of names) target.off(name, check);
  });
}

/** Resolves when `emitter` (a client or transport with `state` and a 'state' event) reaches `state`. */
export function reach<S extends string>(emitter: { readonly state: S }, state: S, timeoutMs = WAIT_MS): Promise<void> {
  return until(emitter, 'state', () => emitter.state === state, timeoutMs, `state '${state}'`);
}
