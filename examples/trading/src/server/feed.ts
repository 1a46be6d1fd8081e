import type { LifelineServer } from '@lifeline/server';
import type { SnapshotResult } from '../shared/market.js';

/**
 * One channel and the state its publications build (the same reducer the page applies).
 *
 * Publications go out one at a time, in order: the next `publish()` starts when the previous one
 * is stored. When one is stored, its delta is applied to `state` and `offset` becomes its offset,
 * so `snapshot()` always returns a state together with the exact offset it reflects: a page that
 * applies the publications after that offset (and only those) holds the channel's state, with no
 * hole and no double.
 */
export class Feed<S, D> {
  private state: S;
  private offset = 0;
  private epoch = '';
  private chain: Promise<void> = Promise.resolve();
  private queued = 0;

  constructor(
    private readonly server: LifelineServer,
    readonly channel: string,
    initial: S,
    private readonly reduce: (state: S, delta: D) => S,
    private readonly report: (error: Error) => void,
  ) {
    this.state = initial;
  }

  /** Publications not yet stored: producers that can wait (the simulator) skip a turn above a bound. */
  get backlog(): number {
    return this.queued;
  }

  publish(delta: D): void {
    this.queued++;
    this.chain = this.chain
      .then(() => this.server.publish(this.channel, delta as never))
      .then(
        ({ offset, epoch }) => {
          this.state = this.reduce(this.state, delta);
          this.offset = offset;
          this.epoch = epoch;
        },
        (error: unknown) => this.report(new Error(`publish to ${this.channel} failed`, { cause: error })),
      )
      .finally(() => this.queued--);
  }

  /** Resolves once everything published so far is stored. */
  settled(): Promise<void> {
    return this.chain;
  }

  snapshot(): SnapshotResult<S> {
    return { channel: this.channel, state: this.state, offset: this.offset, epoch: this.epoch };
  }
}
