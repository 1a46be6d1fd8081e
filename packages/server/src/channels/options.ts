import type { Json } from '@lifeline/protocol';
import type { Session } from '../session.js';

/** The `channels` option of `createServer` (DESIGN.md, "Channels"; guarantee 9). */
export interface ChannelOptions {
  /**
   * Whether `session` may subscribe to `channel`; asked on every `sub`, so again after every
   * reconnect or resume (subscriptions belong to the connection). `false` refuses with `suberr`
   * `ERR_UNAUTHORIZED`. A throw or rejection means the check could not be made: it goes to the
   * server's `error` event and the client gets `suberr` `ERR_CHANNEL_UNAVAILABLE` (retry later).
   * Without it every session may subscribe to every channel: set it if any channel is private.
   * @default undefined (every subscription allowed)
   */
  authorize?(session: Session, channel: string): boolean | Promise<boolean>;
  /**
   * What other subscribers see of `session` in presence (`member.identity` of `join`, `leave`,
   * `members` and `server.presence()`); asked once per session, at its first subscription.
   * Return `undefined` to show nothing but the ids.
   * @default undefined (identities are never shown)
   */
  presence?(session: Session): Json | undefined;
  /**
   * Whether subscribers of `channel` are sent `join` and `leave` events. Each one goes to every
   * subscriber of the channel, so N subscribers arriving cost N² frames: turn it off for
   * channels with many readers who do not show each other (a ticker, an order book), as
   * Centrifugo's `join_leave` is. Presence itself (`sub.presence()`, `server.presence()`) is
   * kept either way.
   * @default true
   */
  joinLeave?: boolean | ((channel: string) => boolean);
  /** Most publications a channel's history keeps, for recovery and slow subscribers (0: none). @default 1_000 */
  historySize?: number;
  /** How long a publication stays in the history, ms. @default 600_000 */
  historyTtlMs?: number;
  /** Most channels one connection may be subscribed to at once; over it `suberr` `ERR_CHANNEL_LIMIT`. @default 128 */
  maxSubscriptions?: number;
  /**
   * Most publications of one subscription on the way to its client beyond its last `pack`; a
   * client's smaller `sub.win` lowers it. A subscriber that does not `pack` is sent no more, and
   * catches up from the history when it does.
   * @default 256
   */
  window?: number;
  /**
   * How long a presence entry lives in the engine unless refreshed, ms. The node holding the
   * session refreshes all its entries on one timer, every third of this, for as long as the
   * session lives (detached within its resume window included); entries of a node that died
   * expire after it.
   * @default 60_000
   */
  presenceTtlMs?: number;
}

export const channelDefaults = Object.freeze({
  historySize: 1_000,
  historyTtlMs: 600_000,
  maxSubscriptions: 128,
  window: 256,
  presenceTtlMs: 60_000,
});

export interface ResolvedChannelOptions {
  readonly authorize: ((session: Session, channel: string) => boolean | Promise<boolean>) | undefined;
  readonly presence: ((session: Session) => Json | undefined) | undefined;
  readonly joinLeave: (channel: string) => boolean;
  readonly historySize: number;
  readonly historyTtlMs: number;
  readonly maxSubscriptions: number;
  readonly window: number;
  readonly presenceTtlMs: number;
}

/** setTimeout clamps longer delays to 1 ms. */
const MAX_TIMER_MS = 2_147_483_647;

function integer(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`channels.${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

function hook<F>(name: string, value: F | undefined): F | undefined {
  if (value !== undefined && typeof value !== 'function') throw new TypeError(`channels.${name} must be a function`);
  return value;
}

function joinLeave(value: ChannelOptions['joinLeave']): (channel: string) => boolean {
  if (value === undefined || value === true) return () => true;
  if (value === false) return () => false;
  if (typeof value !== 'function') throw new TypeError('channels.joinLeave must be a boolean or a function');
  return (channel) => {
    try {
      return value(channel) !== false;
    } catch {
      return true; // the default: a throwing predicate must not stop a subscription
    }
  };
}

/** Defaults applied with `??` and every field checked: a bad option fails at construction. */
export function resolveChannelOptions(options: ChannelOptions | undefined): ResolvedChannelOptions {
  if (options !== undefined && (typeof options !== 'object' || options === null)) throw new TypeError('channels must be an object');
  const o = options ?? {};
  const d = channelDefaults;
  return {
    authorize: hook('authorize', o.authorize),
    presence: hook('presence', o.presence),
    joinLeave: joinLeave(o.joinLeave),
    historySize: integer('historySize', o.historySize ?? d.historySize, 0, 10_000_000),
    historyTtlMs: integer('historyTtlMs', o.historyTtlMs ?? d.historyTtlMs, 1, Number.MAX_SAFE_INTEGER),
    maxSubscriptions: integer('maxSubscriptions', o.maxSubscriptions ?? d.maxSubscriptions, 1, 100_000),
    window: integer('window', o.window ?? d.window, 1, 1_000_000),
    presenceTtlMs: integer('presenceTtlMs', o.presenceTtlMs ?? d.presenceTtlMs, 3, MAX_TIMER_MS),
  };
}
