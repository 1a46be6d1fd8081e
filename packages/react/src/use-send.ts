import { useCallback, useEffect, useRef, useState } from 'react';
import { RemoteError, type Json, type SendOptions } from '@lifeline/sdk';
import { useClient } from './hooks.js';

/** How one `send()` ended: never a rejection, so `onClick={() => send(x)}` leaks no unhandled promise. */
export type SendOutcome<R = Json> =
  | { readonly ok: true; readonly result: R; readonly error?: undefined; readonly maybeDelivered: true }
  | { readonly ok: false; readonly error: Error; readonly result?: undefined; readonly maybeDelivered: boolean };

/** The latest call's status (an older call still settles its own promise, but no longer the status). */
export interface SendStatus<R = Json> {
  readonly pending: boolean;
  readonly result: R | undefined;
  readonly error: Error | undefined;
  /**
   * Whether the failed message may have reached the server (so an order may exist): the error's
   * own `maybeDelivered` (`AckTimeoutError`, `ClosedError`, `AbortError`), true for a `RemoteError`
   * (the handler ran and threw), false otherwise; true after a success.
   */
  readonly maybeDelivered: boolean;
}

export type SendFunction<R = Json> = (data: Json, options?: SendOptions) => Promise<SendOutcome<R>>;

const idle: SendStatus<never> = { pending: false, result: undefined, error: undefined, maybeDelivered: false };

/** Whether a failed send may have reached the server's handler. */
export function maybeDelivered(error: unknown): boolean {
  if (error instanceof RemoteError) return true;
  const flag = (error as { maybeDelivered?: unknown } | null)?.maybeDelivered;
  return typeof flag === 'boolean' ? flag : false;
}

/** `[send, status]`: `send()` is the client's, settled into a `SendOutcome`; `status` follows the latest call. */
export function useSend<R extends Json = Json>(): [SendFunction<R>, SendStatus<R>] {
  const client = useClient();
  const [status, setStatus] = useState<SendStatus<R>>(idle);
  const latest = useRef(0);
  const mounted = useRef(false);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  const send = useCallback<SendFunction<R>>(
    async (data, options) => {
      const call = ++latest.current;
      const report = (next: SendStatus<R>): void => {
        if (mounted.current && call === latest.current) setStatus(next);
      };
      report({ pending: true, result: undefined, error: undefined, maybeDelivered: false });
      try {
        const result = (await client.send(data, options)) as R;
        report({ pending: false, result, error: undefined, maybeDelivered: true });
        return { ok: true, result, maybeDelivered: true };
      } catch (caught) {
        const error = caught instanceof Error ? caught : new Error(String(caught));
        const maybe = maybeDelivered(error);
        report({ pending: false, result: undefined, error, maybeDelivered: maybe });
        return { ok: false, error, maybeDelivered: maybe };
      }
    },
    [client],
  );
  return [send, status];
}
