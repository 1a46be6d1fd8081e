import { LifelineError, type LifelineErrorOptions } from '@lifeline/protocol';

/**
 * Redis did not answer the engine call (unreachable, timed out, or answered with an error).
 * Its outcome is unknown: a call that timed out may still have run once Redis answered, so a
 * publish is retried safely with its idempotency `id`. `cause` is the client's own error; the
 * client reconnects by itself.
 */
export class EngineUnavailableError extends LifelineError {
  constructor(message: string, options?: LifelineErrorOptions) {
    super('ERR_ENGINE_UNAVAILABLE', message, options);
    this.name = 'EngineUnavailableError';
  }
}
