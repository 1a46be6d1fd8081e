import { AbortError, ClosedError, CloseCode, type Json, type MsgFrame, type PluginContext } from '@lifeline/protocol';
import { Fifo, type PluginHost } from '@lifeline/protocol/internal';
import { abortError, withDeadline } from './wait.js';

/** What a `'message'` listener gets besides the data. */
export interface MessageMeta {
  /** The server's sequence number for this message. */
  readonly seq: number;
  /** The server's message id. */
  readonly id: string;
  /** The server's wall clock when it first sent the message (ms since the epoch). */
  readonly sentAt: number;
}

export interface ReceiveOptions {
  /** @default 30_000 */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface MessagesOptions {
  /** Aborting makes a pending `next()` reject with `AbortError` and ends the iterator. */
  signal?: AbortSignal;
}

/** The reconnect that fetches what a full buffer skipped (`CloseCode.Refetch`, local, not fatal). */
export const REFETCH_CLOSE_CODE = CloseCode.Refetch;

/** A message accepted but not yet taken by the application. */
interface Held {
  readonly data: Json;
  readonly seq: number;
  readonly id: string;
  readonly sentAt: number;
  /** Characters of `data` as JSON, counted against `maxBufferedBytes`. */
  readonly bytes: number;
  /** Session generation: a message from a session since lost is delivered but never acknowledged. */
  readonly epoch: number;
}

/** A pending `receive()` or iterator `next()`. */
interface Waiter {
  deliver(data: Json): void;
  /** The client closed. */
  end(error: ClosedError): void;
}

export interface InboxHost {
  /** Whether the application has `'message'` listeners. */
  hasListeners(): boolean;
  /** Emit `'message'` (the host isolates throwing listeners). */
  emit(data: Json, meta: MessageMeta): void;
  /** A `cack` is due: ask for a flush at the end of this tick. */
  cackDue(): void;
  /**
   * Messages were skipped because the buffer was full, and it has room again: reconnect and
   * resume, so the server replays them (it holds them: none was acknowledged).
   */
  refetch(): void;
  plugins: PluginHost;
  ctx(): PluginContext;
  now(): number;
}

/**
 * The client's receive side (DESIGN.md guarantee 2): dedup by seq, in-order delivery to listeners
 * or to `receive()` / `messages()`, a bounded buffer when nobody takes messages, and cumulative
 * acks (`cack`) only for what the application took — so a full buffer withholds acks and the
 * server holds the rest (backpressure end to end).
 */
export class Inbox {
  /** Highest server seq accepted in this session. */
  received = 0;
  /** Highest server seq the application took: `hello.resume.seq`. */
  delivered = 0;
  /** Highest seq announced in a `cack`. */
  private cacked = 0;
  /** Delivered since the last `cack`: still unacknowledged in the server's eyes. */
  private uncacked = 0;
  private resendCack = false;
  private epoch = 0;
  private readonly held = new Fifo<Held>();
  /** Held messages of the current session (they count against the window). */
  private heldNow = 0;
  private waiters: Waiter[] = [];
  private closed = false;
  /** Characters held (every epoch: it is memory that counts). */
  private heldBytes = 0;
  /**
   * The buffer was full in bytes: every new `msg` of this connection is ignored (not received,
   * not acknowledged) until a resume makes the server replay them, in order.
   */
  private skipping = false;
  private refetchAsked = false;

  constructor(
    private readonly host: InboxHost,
    /** `hello.win`: the most unacknowledged messages the server may send. */
    readonly window: number,
    /** `maxBufferedBytes`. */
    private readonly maxBytes = Infinity,
  ) {}

  /** Messages accepted and waiting for `receive()` / `messages()`. */
  get buffered(): number {
    return this.held.length;
  }

  /**
   * Take one `msg` frame. Returns false when it breaks the window (a protocol error);
   * duplicates are dropped.
   */
  accept(f: MsgFrame): boolean {
    const host = this.host;
    const duplicate = f.seq <= this.received;
    let bytes = 0;
    if (!duplicate) {
      if (this.heldNow + this.uncacked >= this.window) return false;
      if (this.skipping) return true;
      const backlog = this.held.length > 0;
      if (backlog || !(this.waiters.length > 0 || host.hasListeners())) {
        // Counted only for what will be held: a message taken at once costs nothing here.
        bytes = jsonLength(f.d);
        // The window bounds one session's messages; those a lost session left count too, or a
        // server that loses the session on every connection would add a window each time.
        if (backlog && (this.heldBytes + bytes > this.maxBytes || this.buffered >= this.window)) {
          // Count bound and byte bound alike: what is not held is not acknowledged, so the
          // server keeps it. Ignoring the rest of this connection keeps the order.
          this.skipping = true;
          return true;
        }
      }
    }
    if (host.plugins.active) {
      host.plugins.onReceive({ id: f.id, seq: f.seq, sentAt: f.ts, wallAt: Date.now(), at: host.now(), duplicate }, host.ctx());
    }
    if (duplicate) {
      // The server may have missed our cack (it replays what it believes undelivered): say it again.
      if (f.seq <= this.delivered) {
        this.resendCack = true;
        host.cackDue();
      }
      return true;
    }
    this.received = f.seq;
    if (this.held.length === 0 && this.handOut(f.d, f.seq, f.id, f.ts, this.epoch)) return true;
    this.held.push({ data: f.d, seq: f.seq, id: f.id, sentAt: f.ts, bytes, epoch: this.epoch });
    this.heldNow++;
    this.heldBytes += bytes;
    return true;
  }

  /** Deliver held messages while someone takes them (a listener was added, a waiter arrived). */
  drain(): void {
    while (this.held.length > 0 && (this.waiters.length > 0 || this.host.hasListeners())) {
      const m = this.shift();
      this.handOut(m.data, m.seq, m.id, m.sentAt, m.epoch);
    }
  }

  /** The next message's data; see `ReceiveOptions`. */
  receive(options: ReceiveOptions = {}, defaultTimeoutMs: number): Promise<Json> {
    const m = this.take();
    if (m !== undefined) return Promise.resolve(m.data);
    if (this.closed) return Promise.reject(new ClosedError('the client is closed'));
    let waiter!: Waiter;
    const promise = new Promise<Json>((resolve, reject) => {
      waiter = { deliver: resolve, end: reject };
    });
    this.waiters.push(waiter);
    return withDeadline(promise, {
      timeoutMs: options.timeoutMs ?? defaultTimeoutMs,
      signal: options.signal,
      what: 'receive()',
      cancel: () => this.removeWaiter(waiter),
    });
  }

  /** An async iterator over messages; it ends when the client closes. */
  messages(options: MessagesOptions = {}): AsyncIterableIterator<Json> {
    return new MessageIterator(this, options.signal);
  }

  /** The `cack.seq` due, if any (called at the start of each write flush: one per tick). */
  takeCack(): number | undefined {
    if (this.delivered === this.cacked && !this.resendCack) return undefined;
    this.cacked = this.delivered;
    this.uncacked = 0;
    this.resendCack = false;
    return this.delivered;
  }

  /**
   * A `cack` is due and held messages remain: they are taken one per `receive()` or iterator
   * step, each a microtask later, so the writer lets their cacks gather until the end of the
   * macrotask (one `cack` for the lot instead of one WebSocket message each).
   */
  cackLingers(): boolean {
    return this.delivered !== this.cacked && this.held.length > 0;
  }

  /**
   * `hello.resume.seq`: the delivered mark, which the server takes as a cumulative ack — so
   * nothing delivered is counted as unacknowledged any more.
   */
  presentDelivered(): number {
    this.newConnection();
    this.cacked = this.delivered;
    this.uncacked = 0;
    return this.delivered;
  }

  /** The server started a new session (`resumed: false`): its sequence starts again. */
  resetSession(): void {
    this.newConnection();
    this.epoch++;
    this.received = 0;
    this.delivered = 0;
    this.cacked = 0;
    this.uncacked = 0;
    this.heldNow = 0;
    this.resendCack = false;
  }

  /** The client closed: pending waits end, held messages are dropped (never acknowledged). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.held.clear();
    this.heldNow = 0;
    this.heldBytes = 0;
    const waiters = this.waiters;
    this.waiters = [];
    const error = new ClosedError('the client closed');
    for (const w of waiters) w.end(error);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Take the next held message as delivered, for `receive()` / iterators. */
  take(): Held | undefined {
    if (this.held.length === 0) return undefined;
    const m = this.shift();
    this.markDelivered(m.seq, m.id, m.sentAt, m.epoch);
    return m;
  }

  addWaiter(waiter: Waiter): void {
    this.waiters.push(waiter);
  }

  removeWaiter(waiter: Waiter): void {
    const i = this.waiters.indexOf(waiter);
    if (i >= 0) this.waiters.splice(i, 1);
  }

  private shift(): Held {
    const m = this.held.shift() as Held;
    if (m.epoch === this.epoch) this.heldNow--;
    this.heldBytes -= m.bytes;
    // Half the bound free before asking again, so a slow reader does not reconnect per message.
    if (this.skipping && !this.refetchAsked && this.heldBytes <= this.maxBytes / 2 && this.buffered <= this.window / 2) {
      this.refetchAsked = true;
      // Not from inside receive() or a listener: the reconnect emits events of its own.
      queueMicrotask(this.refetchNow);
    }
    return m;
  }

  private readonly refetchNow = (): void => {
    if (this.skipping && !this.closed) this.host.refetch();
  };

  /** A new connection replays what this one skipped. */
  private newConnection(): void {
    this.skipping = false;
    this.refetchAsked = false;
  }

  /** Give a message to listeners and the first waiter; false when nobody takes it. */
  private handOut(data: Json, seq: number, id: string, sentAt: number, epoch: number): boolean {
    let taken = false;
    if (this.host.hasListeners()) {
      taken = true;
      this.host.emit(data, { seq, id, sentAt });
    }
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      taken = true;
      waiter.deliver(data);
    }
    if (taken) this.markDelivered(seq, id, sentAt, epoch);
    return taken;
  }

  private markDelivered(seq: number, id: string, sentAt: number, epoch: number): void {
    const host = this.host;
    if (epoch === this.epoch && seq > this.delivered) {
      this.delivered = seq;
      this.uncacked++;
      host.cackDue();
    }
    if (host.plugins.active) {
      host.plugins.onDeliver({ id, seq, sentAt, wallAt: Date.now(), at: host.now() }, host.ctx());
    }
  }
}

/** Characters of `data` as JSON: the unit of `maxBufferedBytes` (and of `maxQueued.bytes`). */
function jsonLength(data: Json): number {
  return data === undefined ? 0 : JSON.stringify(data).length;
}

interface IteratorWaiter extends Waiter {
  /** The iterator finished (return() or the client closed): resolve as done. */
  finish(): void;
  abort(error: AbortError): void;
}

/** `messages()`: an async iterator sharing the inbox with `receive()`; done when the client closes. */
class MessageIterator implements AsyncIterableIterator<Json> {
  private done = false;
  /** Set by an abort that found no `next()` pending: the following `next()` rejects with it. */
  private aborted: AbortError | undefined;
  private readonly mine = new Set<IteratorWaiter>();

  constructor(
    private readonly inbox: Inbox,
    private readonly signal: AbortSignal | undefined,
  ) {
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  next(): Promise<IteratorResult<Json>> {
    if (this.aborted !== undefined) {
      const error = this.aborted;
      this.aborted = undefined;
      return Promise.reject(error);
    }
    if (this.done) return Promise.resolve({ done: true, value: undefined });
    const m = this.inbox.take();
    if (m !== undefined) return Promise.resolve({ done: false, value: m.data });
    if (this.inbox.isClosed) {
      this.finish();
      return Promise.resolve({ done: true, value: undefined });
    }
    return new Promise((resolve, reject) => {
      const waiter: IteratorWaiter = {
        deliver: (data) => {
          this.mine.delete(waiter);
          resolve({ done: false, value: data });
        },
        end: () => {
          this.mine.delete(waiter);
          this.finish();
          resolve({ done: true, value: undefined });
        },
        finish: () => resolve({ done: true, value: undefined }),
        abort: reject,
      };
      this.mine.add(waiter);
      this.inbox.addWaiter(waiter);
    });
  }

  return(): Promise<IteratorResult<Json>> {
    this.finish();
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Json> {
    return this;
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    const pending = [...this.mine];
    this.mine.clear();
    for (const w of pending) {
      this.inbox.removeWaiter(w);
      w.finish();
    }
  }

  /** Abort: pending `next()` calls reject with `AbortError`; the iterator is done. */
  private readonly onAbort = (): void => {
    if (this.done) return;
    this.done = true;
    const pending = [...this.mine];
    this.mine.clear();
    const error = abortError('messages()', this.signal as AbortSignal);
    if (pending.length === 0) this.aborted = error;
    for (const w of pending) {
      this.inbox.removeWaiter(w);
      w.abort(error);
    }
  };
}
