/**
 * The public API of `@lifeline/redis` (docs/api.md lists every name).
 * @module @lifeline/redis
 */
export { redisEngine } from './redis-engine.js';
export type { RedisEngine } from './redis-engine.js';
export { redisEngineDefaults } from './options.js';
export type { RedisEngineOptions } from './options.js';
export { EngineUnavailableError } from './errors.js';
