import type { Codec, StreamPosition } from '@lifeline/protocol';
import type { Engine, HistoryPage } from '../engine/engine.js';
import { pubFrame, type ChannelUnits } from './units.js';

/** Most publications read from the history at once for one subscriber: what a catch-up holds at a time. */
export const PAGE_SIZE = 100;

/** What a subscription writes to: the connection that sent `sub`, in its session's codec. */
export interface SubscriberLink {
  readonly codec: Codec;
  /** Below the socket's high-water mark: more may be written now. */
  readonly writable: boolean;
  push(frame: unknown): void;
}

/** What the hub offers every subscriber of a channel; `frame(codec)` is encoded once per codec, whoever asks first. */
export interface Subscriber {
  readonly link: SubscriberLink;
  /** A publication was stored (`offset` of `epoch`): write `frame` if it is the next one and there is room. */
  offer(epoch: string, offset: number, frame: (codec: Codec) => unknown): void;
  /** A `join` or `leave`: notifications, written only to a subscription that is open and a socket that takes writes. */
  notify(frame: (codec: Codec) => unknown): void;
}

export interface CursorDeps {
  readonly engine: Pick<Engine, 'history'>;
  /** The channel's encoded name and epoch in a codec (the hub's cache). */
  units(codec: Codec, epoch: string): ChannelUnits;
  /** The history could not be read mid-subscription: the subscription is ended with `suberr`. */
  failed(subscription: Subscription, error: unknown): void;
}

/**
 * `starting` (authorize, first read; `subok` not sent), `live` (caught up: publications come from
 * the hub as they are stored), `reading` (catching up from the history, a page at a time),
 * `paused` (the window is full or the socket above its high-water mark: nothing is sent until a
 * `pack` or a drain), `ended`.
 */
export type CursorState = 'starting' | 'live' | 'reading' | 'paused' | 'ended';

/**
 * One subscription of one connection to one channel: a cursor into the channel's log, not a
 * queue (protocol.md, "Channels"; guarantee 9). It holds a few numbers whatever the publish
 * rate: the epoch, the last offset sent, the last offset the client packed. A live publication
 * is written only if it is the next offset and the window (`window` beyond the last `pack`) has
 * room; otherwise the subscription stops taking live ones and, when there is room again, reads
 * what it missed from the history in pages of at most `PAGE_SIZE`. What the history no longer
 * holds becomes one `gap` before anything newer: `evicted` in the same epoch, `epoch` when the
 * history was lost.
 */
export class Subscription implements Subscriber {
  private state: CursorState = 'starting';
  private epoch = '';
  /** The offset of the last publication written (or covered by a gap). */
  private sent = 0;
  /** The client's cumulative `pack`, at most `sent`. */
  private packed = 0;
  /** A publication was stored while `starting` or `reading`: read again before going live. */
  private heard = false;

  constructor(
    readonly channel: string,
    readonly link: SubscriberLink,
    /** Publications on the way beyond the last `pack`. */
    readonly window: number,
    private readonly deps: CursorDeps,
  ) {}

  get cursorState(): CursorState {
    return this.state;
  }

  /** Read through a getter: a state may change across an `await`, which TypeScript's narrowing does not see. */
  private get ended(): boolean {
    return this.state === 'ended';
  }

  private get reading(): boolean {
    return this.state === 'reading';
  }

  /** `subok` was sent and the subscription has not ended. */
  get open(): boolean {
    return this.state !== 'starting' && this.state !== 'ended';
  }

  /** Where the client is: the last offset written to it, in its epoch. */
  get position(): StreamPosition {
    return { offset: this.sent, epoch: this.epoch };
  }

  /**
   * `subok` with the channel's position, then (with `since`) what the history holds after it, a
   * `gap` first where it does not, then live. Throws what the engine threw (nothing was sent).
   */
  async start(since: StreamPosition | undefined): Promise<void> {
    const history = this.deps.engine.history.bind(this.deps.engine);
    const codec = this.link.codec;
    if (since === undefined) {
      const at = await history(this.channel, { limit: 0 });
      if (this.ended) return;
      this.epoch = at.epoch;
      this.sent = this.packed = at.offset;
      this.link.push(codec.subok(this.channel, at.offset, at.epoch, undefined, this.window));
      this.state = 'live';
      if (this.heard) void this.read();
      return;
    }
    const limit = Math.min(PAGE_SIZE, this.window);
    let page = await history(this.channel, { since: since.offset, limit });
    if (this.ended) return;
    if (page.epoch === since.epoch) {
      this.epoch = page.epoch;
      // A position ahead of the log (it cannot be from this epoch) recovers from the log's end.
      this.sent = this.packed = Math.min(since.offset, page.offset);
      const recovered = this.firstKept(page) <= this.sent + 1;
      this.link.push(codec.subok(this.channel, page.offset, page.epoch, recovered, this.window));
    } else {
      if (since.offset > 0) page = await history(this.channel, { limit });
      if (this.ended) return;
      this.link.push(codec.subok(this.channel, page.offset, page.epoch, false, this.window));
      this.epochGap(page);
    }
    this.state = 'reading';
    this.deliver(page);
    this.afterPage(page);
  }

  offer(epoch: string, offset: number, frame: (codec: Codec) => unknown): void {
    switch (this.state) {
      case 'live':
        if (epoch === this.epoch && offset === this.sent + 1) {
          if (this.sent - this.packed < this.window && this.link.writable) {
            this.link.push(frame(this.link.codec));
            this.sent = offset;
          } else {
            this.state = 'paused'; // read from the history once there is room
          }
        } else if (epoch !== this.epoch || offset > this.sent) {
          void this.read(); // a hole or a new epoch: the history says what happened
        }
        return;
      case 'starting':
      case 'reading':
        this.heard = true;
        return;
      default:
        return; // paused: the history holds it; ended: nothing
    }
  }

  notify(frame: (codec: Codec) => unknown): void {
    if (this.open && this.link.writable) this.link.push(frame(this.link.codec));
  }

  /** The client delivered every publication up to `offset` (cumulative; lower values are ignored). */
  pack(offset: number): void {
    if (offset > this.packed) this.packed = Math.min(offset, this.sent);
    if (this.state === 'paused') void this.read();
  }

  /** The socket took what it had buffered. */
  drained(): void {
    if (this.state === 'paused') void this.read();
  }

  end(): void {
    this.state = 'ended';
  }

  /** The offset of the first publication the page holds (one past the log's end when it holds none). */
  private firstKept(page: HistoryPage): number {
    return page.publications[0]?.offset ?? page.offset + 1;
  }

  /**
   * Catch up from the history, a page at a time, within the window; live once the page reached
   * the log's end and nothing was stored meanwhile, paused when the window or the socket is full.
   */
  private async read(): Promise<void> {
    this.state = 'reading';
    try {
      for (;;) {
        this.heard = false;
        const room = this.window - (this.sent - this.packed);
        if (room <= 0 || !this.link.writable) {
          this.state = 'paused';
          return;
        }
        const limit = Math.min(PAGE_SIZE, room);
        let page = await this.deps.engine.history(this.channel, { since: this.sent, limit });
        if (!this.reading) return;
        if (page.epoch !== this.epoch) {
          if (this.sent > 0) page = await this.deps.engine.history(this.channel, { limit });
          if (!this.reading) return;
          this.epochGap(page);
        }
        this.deliver(page);
        if (!this.more(page)) {
          this.state = 'live';
          return;
        }
      }
    } catch (error) {
      if (!this.ended) this.deps.failed(this, error);
    }
  }

  private afterPage(page: HistoryPage): void {
    if (this.more(page)) void this.read();
    else this.state = 'live';
  }

  private more(page: HistoryPage): boolean {
    return page.offset > this.sent || this.heard;
  }

  /**
   * The history the client was in is gone: `gap` `epoch` from 1 to the last offset of the new
   * epoch the history no longer holds (0 when it holds it all), and the cursor moves there.
   */
  private epochGap(page: HistoryPage): void {
    const to = this.firstKept(page) - 1;
    this.link.push(this.link.codec.gap(this.channel, 1, to, page.epoch, 'epoch'));
    this.epoch = page.epoch;
    this.sent = this.packed = to;
  }

  /**
   * Write the page's publications after the cursor; when the page starts above the next offset
   * needed (the history evicted it), a `gap` `evicted` comes first. A gap takes no room in the
   * window: `packed` moves with `sent`.
   */
  private deliver(page: HistoryPage): void {
    const codec = this.link.codec;
    const first = this.firstKept(page);
    if (first > this.sent + 1) {
      this.link.push(codec.gap(this.channel, this.sent + 1, first - 1, this.epoch, 'evicted'));
      this.packed += first - 1 - this.sent;
      this.sent = first - 1;
    }
    const pubs = page.publications;
    if (pubs.length === 0) return;
    const units = this.deps.units(codec, this.epoch);
    for (let i = 0; i < pubs.length; i++) {
      const pub = pubs[i]!;
      if (pub.offset <= this.sent) continue;
      this.link.push(pubFrame(codec, units, pub));
      this.sent = pub.offset;
    }
  }
}
