import type { Redis } from 'ioredis';

export interface RedisEngineOptions {
  /** Where Redis is, e.g. `redis://127.0.0.1:6379` (one of `url` and `client`). */
  url?: string;
  /**
   * A connected ioredis client to use instead of `url` (one of `url` and `client`). The engine
   * opens its subscriber with `client.duplicate()`, and leaves `client` open on `close()`.
   */
  client?: Redis;
  /** Put before every key and pub/sub channel, so apps can share one Redis. No `{` or `}`. @default 'lifeline:' */
  keyPrefix?: string;
  /** Most bytes of history one channel keeps; the oldest publications go first. @default 1_048_576 */
  maxHistoryBytes?: number;
  /** Most members present in one channel. @default 10_000 */
  maxMembers?: number;
  /** How long a channel's position (offset, epoch) outlives its last publication, member, listener or read, ms. @default 300_000 */
  positionTtlMs?: number;
  /** Interval of the one timer that keeps the listened channels' positions and expires their members, ms. @default 1_000 */
  sweepIntervalMs?: number;
  /** How long one Redis command may take before the call rejects with `EngineUnavailableError`, ms (with `url`). @default 2_000 */
  commandTimeoutMs?: number;
  /** Where a listener's exception, an undecodable notification or a connection error goes. @default console.error */
  onError?: (error: unknown) => void;
}

export const redisEngineDefaults = Object.freeze({
  keyPrefix: 'lifeline:',
  maxHistoryBytes: 1 << 20,
  maxMembers: 10_000,
  positionTtlMs: 300_000,
  sweepIntervalMs: 1_000,
  commandTimeoutMs: 2_000,
});

export function text(name: string, value: unknown, max: number): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw new TypeError(`${name} must be a string of 1 to ${max} characters, got ${typeof value === 'string' ? `${value.length} characters` : String(value)}`);
  }
  return value;
}

export function integer(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new TypeError(`${name} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

export function duration(name: string, value: unknown): number {
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new TypeError(`${name} must be a finite number above 0, got ${String(value)}`);
  }
  return Math.ceil(value);
}

export function resolve(options: RedisEngineOptions) {
  if (typeof options !== 'object' || options === null) throw new TypeError('redisEngine() needs { url } or { client }');
  if ((options.url === undefined) === (options.client === undefined)) throw new TypeError('redisEngine() needs exactly one of url and client');
  if (options.url !== undefined && typeof options.url !== 'string') throw new TypeError('url must be a string such as redis://127.0.0.1:6379');
  const d = redisEngineDefaults;
  const keyPrefix = options.keyPrefix ?? d.keyPrefix;
  // A brace would move the Cluster hash tag off the channel name.
  if (typeof keyPrefix !== 'string' || keyPrefix.length > 128 || /[{}]/.test(keyPrefix)) {
    throw new TypeError('keyPrefix must be a string of at most 128 characters without { or }');
  }
  const resolved = {
    keyPrefix,
    maxHistoryBytes: integer('maxHistoryBytes', options.maxHistoryBytes ?? d.maxHistoryBytes, 1),
    maxMembers: integer('maxMembers', options.maxMembers ?? d.maxMembers, 1),
    positionTtlMs: duration('positionTtlMs', options.positionTtlMs ?? d.positionTtlMs),
    sweepIntervalMs: duration('sweepIntervalMs', options.sweepIntervalMs ?? d.sweepIntervalMs),
    commandTimeoutMs: duration('commandTimeoutMs', options.commandTimeoutMs ?? d.commandTimeoutMs),
    onError: options.onError ?? ((error: unknown) => console.error('lifeline redisEngine:', error)),
  };
  if (typeof resolved.onError !== 'function') throw new TypeError('onError must be a function');
  return resolved;
}
