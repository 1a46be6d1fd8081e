import pRetry from 'p-retry';
import pTimeout from 'p-timeout';
import { CloseCode, ConnectionError, ProtocolError, UnauthorizedError, fatalCloseCodes } from '@lifeline/protocol';
import { afterIoTimers } from '@lifeline/protocol/internal';
import { Link } from './link.js';
import type { ResolvedTransportOptions } from './options.js';
import { MAX_TIMER_MS, resolveWebSocket } from './socket.js';

/** Errors after which retrying would only repeat the refusal (docs/protocol.md#close-codes). */
export function isFatal(error: unknown): boolean {
  if (error instanceof ProtocolError || error instanceof UnauthorizedError) return true;
  if (error instanceof ConnectionError) return fatalCloseCodes.has(error.closeCode);
  // A malformed URL makes the WebSocket constructor throw a SyntaxError: it will not heal.
  return error instanceof SyntaxError;
}

/** An abortable delay; rejects with the signal's reason. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  if (ms <= 0) return Promise.resolve();
  // A longer delay would overflow the timer, which then fires at once.
  const delay = Math.min(ms, MAX_TIMER_MS);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, delay);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The connect loop: attempts through p-retry, each one a socket open plus the handshake bounded by
 * `connectTimeoutMs`; between attempts a full-jitter delay (our `backoff`, awaited in
 * `onFailedAttempt`; p-retry's own delay is zeroed). The attempt count and backoff exponent live
 * here, across runs, and reset only through `reset()` — the transport calls it once a connection
 * stayed up `minUptimeMs` (partysocket's minUptime).
 */
export class Connector {
  /** Attempts in the current streak. */
  private attempts = 0;
  /** Delays taken in the current streak: the backoff exponent. */
  private delays = 0;
  /** A floor for the next delay, from a server `bye` with `retryMs`. */
  private floorMs = 0;

  constructor(
    private readonly options: ResolvedTransportOptions,
    private readonly onDelay: (attempt: number, delayMs: number) => void,
  ) {}

  get maxAttempts(): number {
    return this.options.reconnect === false ? 1 : this.options.reconnect.maxAttempts;
  }

  /** True when the streak has used every attempt `maxAttempts` allows. */
  get exhausted(): boolean {
    return this.attempts >= this.maxAttempts;
  }

  reset(): void {
    this.attempts = 0;
    this.delays = 0;
  }

  /**
   * Wait at least `ms` (plus jitter) before the next attempt (protocol `bye.retryMs`), but never
   * more than `reconnect.maxDelayMs`: the value comes from the server, and 3e9 would overflow
   * the timer (reconnect at once) while 2e9 would wait 23 days.
   */
  retryAfter(ms: number): void {
    const r = this.options.reconnect;
    const ceiling = Math.min(r === false ? 0 : r.maxDelayMs, MAX_TIMER_MS);
    const floor = Number.isNaN(ms) ? 0 : Math.min(Math.max(0, ms), ceiling);
    this.floorMs = Math.max(this.floorMs, floor);
  }

  /**
   * Attempt until a connection is established (resolves with it), a fatal error, the attempts run
   * out (rejects with the last error), or `signal` aborts (rejects with its reason).
   * `delayFirst`: wait a backoff delay before the first attempt (a reconnect, not a first connect).
   */
  async run(signal: AbortSignal, delayFirst: boolean): Promise<Link> {
    if (delayFirst) await this.pause(signal);
    const left = this.maxAttempts - this.attempts;
    return pRetry(() => this.attempt(signal), {
      retries: Math.max(0, left - 1),
      minTimeout: 0,
      maxTimeout: 0,
      signal,
      shouldRetry: ({ error }) => !isFatal(error),
      onFailedAttempt: async ({ error, retriesLeft }) => {
        if (retriesLeft > 0 && !isFatal(error)) await this.pause(signal);
      },
    });
  }

  private async pause(signal: AbortSignal): Promise<void> {
    const r = this.options.reconnect;
    const jitter = r === false ? 0 : this.options.backoff(this.delays, { minDelayMs: r.minDelayMs, maxDelayMs: r.maxDelayMs, random: this.options.random });
    this.delays++;
    // docs/protocol.md#bye: wait at least retryMs, "and still add its own jitter".
    const delayMs = this.floorMs + jitter;
    this.floorMs = 0;
    this.onDelay(this.attempts + 1, delayMs);
    await sleep(delayMs, signal);
  }

  private async attempt(loop: AbortSignal): Promise<Link> {
    this.attempts++;
    const ctl = new AbortController();
    const forward = () => ctl.abort(loop.reason);
    loop.addEventListener('abort', forward, { once: true });
    const { connectTimeoutMs } = this.options;
    try {
      return await pTimeout(this.open(ctl.signal), {
        milliseconds: connectTimeoutMs,
        // A `welcome` already read from the network but not yet handled must not lose to the
        // timer after a stall: the server would keep the session it announced, orphaned, and the
        // next attempt would open another (chaos seed 75).
        customTimers: afterIoTimers as unknown as { setTimeout: typeof setTimeout; clearTimeout: typeof clearTimeout },
        fallback: () => {
          const error = new ConnectionError(CloseCode.ConnectTimeout, `connect attempt timed out after ${connectTimeoutMs} ms`);
          ctl.abort(error);
          throw error;
        },
      });
    } catch (error) {
      loop.removeEventListener('abort', forward);
      throw error;
    }
    // On success `forward` stays: a run aborted before the transport adopts the link drops it.
  }

  private async open(signal: AbortSignal): Promise<Link> {
    const { url, protocols, handshake, maxPayloadBytes } = this.options;
    const href = typeof url === 'function' ? await url() : url;
    signal.throwIfAborted();
    const WebSocket = await resolveWebSocket(this.options.WebSocket);
    signal.throwIfAborted();
    // ws reads maxPayload as an int32, where 0 means no bound; past that only the Link checks.
    const maxPayload = maxPayloadBytes <= 0x7fff_ffff ? maxPayloadBytes : 0;
    const link = new Link(new WebSocket(href, protocols, { maxPayload }), maxPayloadBytes);
    const abandon = () => link.drop(CloseCode.ConnectTimeout, 'connect attempt abandoned');
    signal.addEventListener('abort', abandon, { once: true });
    try {
      await link.opened();
      if (handshake !== undefined) await handshake(link, signal);
      signal.throwIfAborted();
      // The peer may have closed during the last step of the handshake.
      await link.opened();
      return link;
    } catch (error) {
      signal.removeEventListener('abort', abandon);
      if (error instanceof ProtocolError) link.close(error.closeCode, error.message);
      else link.drop(CloseCode.ConnectTimeout, 'connect attempt failed');
      throw error;
    }
  }
}
