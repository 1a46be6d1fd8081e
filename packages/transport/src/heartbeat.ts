import { afterIo, unref } from '@lifeline/protocol/internal';

/**
 * Dead-link detection (DESIGN.md guarantee 5). A ping goes out every `intervalMs` (browsers cannot
 * send WebSocket pings, so it is an application frame); any inbound message counts as life, and
 * on Node (`ws`) so do bytes of a message still arriving (`Link`).
 * Inbound traffic only stamps `lastSeen`: a single check timer is armed for the earliest moment
 * the peer could be declared dead and, when it fires early (traffic came in meanwhile), re-armed
 * for the rest. No timer is touched per message.
 *
 * The verdict waits one turn of I/O: after the event loop was blocked (a long task, a GC pause, a
 * starved CPU), Node runs due timers before it reads the sockets, so a pong that arrived during
 * the block would otherwise be judged missing.
 */
export interface HeartbeatOptions {
  intervalMs: number;
  timeoutMs: number;
  /** Send one ping. */
  ping: () => void;
  /** The peer has been silent for `timeoutMs`. */
  dead: () => void;
  /** Monotonic clock, ms. */
  now: () => number;
}

type Timer = ReturnType<typeof setTimeout>;

export class Heartbeat {
  /** Monotonic time of the last inbound message. */
  lastSeen = 0;
  private pinger: Timer | undefined;
  private checker: Timer | undefined;
  /** Bumped by stop(), so a verdict deferred past it is dropped. */
  private generation = 0;

  constructor(private readonly options: HeartbeatOptions) {}

  get running(): boolean {
    return this.checker !== undefined || this.pinger !== undefined;
  }

  start(): void {
    this.stop();
    const { intervalMs, timeoutMs, ping } = this.options;
    this.lastSeen = this.options.now();
    if (Number.isFinite(intervalMs)) this.pinger = unref(setInterval(ping, intervalMs));
    if (Number.isFinite(timeoutMs)) this.arm(timeoutMs);
  }

  /** Record a sign of life. Hot path: one clock read, one store. */
  seen(): void {
    this.lastSeen = this.options.now();
  }

  stop(): void {
    this.generation++;
    if (this.pinger !== undefined) clearInterval(this.pinger);
    if (this.checker !== undefined) clearTimeout(this.checker);
    this.pinger = undefined;
    this.checker = undefined;
  }

  private arm(delayMs: number): void {
    this.checker = unref(setTimeout(this.check, delayMs));
  }

  /** If the peer was heard from within the window, re-arms for the rest of it and returns true. */
  private rearmIfHeard(): boolean {
    const left = this.options.timeoutMs - (this.options.now() - this.lastSeen);
    if (left > 0) this.arm(left);
    return left > 0;
  }

  private readonly check = (): void => {
    this.checker = undefined;
    if (this.rearmIfHeard()) return;
    const generation = this.generation;
    afterIo(() => {
      if (generation !== this.generation || this.rearmIfHeard()) return;
      this.stop();
      this.options.dead();
    });
  };
}
