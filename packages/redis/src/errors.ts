import { LifelineError, type LifelineErrorOptions } from '@lifeline/protocol';

/**
 * Redis did not answer the engine call (unreachable, timed out, or answered with an error):
 * nothing can be assumed stored. `cause` is the client's own error. The call may be retried;
 * the client reconnects by itself.
 */
export class EngineUnavailableError extends LifelineError {
  constructor(message: string, options?: LifelineErrorOptions) {
    super('ERR_ENGINE_UNAVAILABLE', message, options);
    this.name = 'EngineUnavailableError';
  }
}
