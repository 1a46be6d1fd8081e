/**
 * Dead-link detection (DESIGN.md guarantee 5). A ping goes out every `intervalMs` (browsers cannot
 * send WebSocket pings, so it is an application frame); any inbound message counts as life.
 * Inbound traffic only stamps `lastSeen`: a single check timer is armed for the earliest moment
 * the peer could be declared dead and, when it fires early (traffic came in meanwhile), re-armed
 * for the rest. No timer is touched per message.
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

const unref = (timer: Timer): Timer => {
  (timer as { unref?: () => void }).unref?.();
  return timer;
};

export class Heartbeat {
  /** Monotonic time of the last inbound message. */
  lastSeen = 0;
  private pinger: Timer | undefined;
  private checker: Timer | undefined;

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
    if (this.pinger !== undefined) clearInterval(this.pinger);
    if (this.checker !== undefined) clearTimeout(this.checker);
    this.pinger = undefined;
    this.checker = undefined;
  }

  private arm(delayMs: number): void {
    this.checker = unref(setTimeout(this.check, delayMs));
  }

  private readonly check = (): void => {
    this.checker = undefined;
    const silentFor = this.options.now() - this.lastSeen;
    const left = this.options.timeoutMs - silentFor;
    if (left > 0) {
      this.arm(left);
      return;
    }
    this.stop();
    this.options.dead();
  };
}
