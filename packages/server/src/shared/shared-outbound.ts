import { AbortError, AckTimeoutError, ClosedError, PayloadTooLargeError, QueueFullError, type Codec } from '@lifeline/protocol';
import { messageId, now as monotonic, type Deadlines } from '@lifeline/protocol/internal';
import type { OutboundLink } from '../link.js';
import { HELLO_WIN_DEFAULT, type ResolvedOptions } from '../options.js';
import type { SendOptions } from '../outbound.js';
import type { SessionCloseReason } from '../session.js';
import { MAX_BATCH } from '../engine/engine-sessions.js';
import type { SharedEngine } from './node.js';
import { loadPush, storePush } from './stored.js';

/** A push waiting for the next `appendMany` (engines that batch). */
interface QueuedPush {
  readonly p: PendingPush;
  readonly stored: string;
  readonly ts: number;
  readonly d: unknown;
}

/** Most characters of pushes in one `appendMany` (at least one push goes, whatever its size). */
const APPEND_CHARS = 1 << 20;

/** One `session.send()` made on this node: its promise lives here only. */
export interface PendingPush {
  readonly id: string;
  /** The engine's seq, once appended (0 before). */
  seq: number;
  /** Handed to the engine: it may be stored, so a failure from now on says `maybeDelivered`. */
  handed: boolean;
  readonly timeoutMs: number;
  resolve(): void;
  reject(error: Error): void;
  settled: boolean;
  onAbort: (() => void) | undefined;
  readonly signal: AbortSignal | undefined;
  readonly owner: SharedOutbound;
}

/** What a session's shared outbound part is given. */
export interface SharedOutboundDeps {
  readonly options: Pick<ResolvedOptions, 'ackTimeoutMs' | 'maxInFlight' | 'maxQueued' | 'now'>;
  readonly engine: SharedEngine;
  /** One timer for the deadlines of every push of this node. */
  readonly deadlines: Deadlines<PendingPush>;
  reportError(error: unknown): void;
  engineFailed(error: unknown): void;
}

const closeText: Readonly<Record<SessionCloseReason, string>> = {
  closed: 'the session was closed by the server',
  expired: 'the session expired',
  evicted: 'the session was ended for a newer session of the same identity (maxSessionsPerIdentity)',
  'server-closed': 'this server shut down',
  'client-closed': 'the client ended the session',
  moved: 'the session moved to another node (the push is still delivered from the engine)',
};

/**
 * Server → client on a shared engine (guarantee 10): every push is appended to the engine,
 * which numbers it, and the node holding the session writes the engine's pushes in seq order,
 * without a hole, within the client's window; a `cack` drops them there. So a resume on any
 * node resends what the client has not acknowledged. The `session.send()` promise lives on the
 * node that sent it: it resolves when that node sees the `cack`, and rejects with `ClosedError`
 * (`maybeDelivered: true`) if the session moves to another node first.
 */
export class SharedOutbound {
  private link: OutboundLink | undefined;
  private window: number;
  /** Highest seq written on the current connection. */
  private written = 0;
  /** Highest seq the client acknowledged. */
  private acked = 0;
  /** Highest seq the engine is known to hold. */
  private known = 0;
  /** Sent here and not yet acknowledged, by seq (appended) or waiting for the append. */
  private readonly pending = new Map<number, PendingPush>();
  /** Frames of pushes appended here, by seq, so writing them needs no engine read. */
  private readonly frames = new Map<number, unknown>();
  private reading = false;
  private ackSent = 0;
  private acking = false;
  private ended: SessionCloseReason | undefined;
  /** Pushes made while an `appendMany` is out, for the next one (engines that batch). */
  private toAppend: QueuedPush[] = [];
  private appending = false;

  constructor(
    private readonly sid: string,
    private readonly codec: Codec,
    private readonly deps: SharedOutboundDeps,
  ) {
    this.window = deps.options.maxInFlight;
  }

  send(data: unknown, options: SendOptions | undefined): Promise<void> {
    if (this.ended !== undefined) return Promise.reject(new ClosedError(`session.send(): ${closeText[this.ended]}`));
    let d: unknown;
    try {
      d = this.codec.value(data);
    } catch (cause) {
      return Promise.reject(new TypeError(`session.send() cannot encode its data: ${(cause as Error).message}`, { cause }));
    }
    const id = options?.id ?? messageId();
    if (typeof id !== 'string' || id.length === 0 || id.length > 128) return Promise.reject(new TypeError('session.send() needs `id` to be a string of 1 to 128 characters'));
    const timeoutMs = options?.timeoutMs ?? this.deps.options.ackTimeoutMs;
    if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) return Promise.reject(new TypeError(`session.send() needs \`timeoutMs\` to be a non-negative number, got ${String(timeoutMs)}`));
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(new AbortError(`session.send() of ${id} was aborted before it was queued`, { cause: signal.reason }));
    const bytes = this.codec.size(d);
    if (bytes > this.deps.options.maxQueued.bytes) return Promise.reject(new PayloadTooLargeError(bytes, this.deps.options.maxQueued.bytes));
    // More waiting here than the engine would ever hold at once: the queue stays bounded.
    if (this.toAppend.length >= this.deps.options.maxQueued.messages) return Promise.reject(new QueueFullError('session.send(): maxQueued pushes are waiting to be stored'));
    const ts = this.deps.options.now();
    let p!: PendingPush;
    const promise = new Promise<void>((resolve, reject) => {
      p = { id, seq: 0, handed: false, timeoutMs, resolve, reject, settled: false, onAbort: undefined, signal, owner: this };
    });
    // Fire-and-forget pushes are safe: a rejection nobody awaits is not reported as unhandled.
    promise.catch(() => {});
    if (timeoutMs !== Infinity) this.deps.deadlines.add(p, monotonic() + timeoutMs);
    if (signal !== undefined) {
      p.onAbort = () => this.fail(p, new AbortError(`session.send() of ${id} was aborted`, { cause: signal.reason, maybeDelivered: p.handed }));
      signal.addEventListener('abort', p.onAbort, { once: true });
    }
    const stored = storePush(this.codec, ts, id, d);
    if (this.deps.engine.pushes.appendMany !== undefined) {
      this.toAppend.push({ p, stored, ts, d });
      if (!this.appending) void this.appendQueued();
      return promise;
    }
    p.handed = true;
    this.deps.engine.pushes.append(this.sid, stored).then(
      (seq) => this.afterAppend(p, seq, ts, d),
      (error: unknown) => this.appendFailed(p, error),
    );
    return promise;
  }

  /**
   * One `appendMany` out at a time; the pushes made meanwhile go in the next (issue 12: a call
   * per push held the Redis engine at a fifth of the memory engine's push rate). A push whose
   * deadline passed or that was aborted before its call is never stored.
   */
  private async appendQueued(): Promise<void> {
    this.appending = true;
    try {
      while (this.toAppend.length > 0 && this.ended === undefined) {
        const batch: QueuedPush[] = [];
        let chars = 0;
        let taken = 0;
        for (const q of this.toAppend) {
          if (batch.length === MAX_BATCH || (batch.length > 0 && chars + q.stored.length > APPEND_CHARS)) break;
          taken++;
          if (q.p.settled) continue;
          q.p.handed = true;
          batch.push(q);
          chars += q.stored.length;
        }
        this.toAppend = this.toAppend.slice(taken);
        if (batch.length === 0) continue;
        let seqs: (number | 'full' | undefined)[];
        try {
          seqs = await this.deps.engine.pushes.appendMany!(this.sid, batch.map((q) => q.stored));
        } catch (error) {
          for (const q of batch) this.appendFailed(q.p, error, false);
          this.deps.engineFailed(error);
          continue;
        }
        for (let i = 0; i < batch.length; i++) this.afterAppend(batch[i]!.p, seqs[i], batch[i]!.ts, batch[i]!.d);
      }
    } finally {
      this.appending = false;
    }
  }

  private afterAppend(p: PendingPush, seq: number | 'full' | undefined, ts: number, d: unknown): void {
    if (seq === 'full') this.fail(p, new QueueFullError('session.send(): the session holds maxQueued unacknowledged pushes'));
    else if (seq === undefined) this.fail(p, new ClosedError('session.send(): the session is no longer known to the engine'));
    else this.appended(p, seq, this.codec.msg(seq, this.codec.value(p.id), ts, d));
  }

  private appendFailed(p: PendingPush, error: unknown, report = true): void {
    // Not known to be stored: the caller may send again under the same id.
    this.fail(p, new ClosedError(`session.send() of ${p.id}: the engine did not record it`, { cause: error, maybeDelivered: true }));
    if (report) this.deps.engineFailed(error);
  }

  /** A resume read the engine: it holds pushes up to `pushSeq` (some perhaps from another node). */
  adoptKnown(pushSeq: number): void {
    this.known = Math.max(this.known, pushSeq);
  }

  /** A connection took the session: the client has every push up to `ackSeq`. Returns how many are resent. */
  attach(link: OutboundLink, win: number | undefined, ackSeq: number): number {
    this.link = link;
    this.window = Math.min(win ?? HELLO_WIN_DEFAULT, this.deps.options.maxInFlight);
    // Everything after the client's mark goes again on this connection.
    this.written = Math.max(this.acked, Math.min(ackSeq, this.known));
    this.cack(ackSeq);
    const resent = Math.max(0, this.known - this.acked);
    this.pump();
    return resent;
  }

  detach(): void {
    this.link = undefined;
  }

  cack(seq: number): void {
    const upTo = Math.min(seq, this.known);
    if (upTo <= this.acked) return;
    this.acked = upTo;
    for (const [s, p] of this.pending) {
      if (s > upTo) continue;
      this.settle(p);
      p.resolve();
    }
    for (const s of this.frames.keys()) if (s <= upTo) this.frames.delete(s);
    void this.ackEngine();
    this.pump();
  }

  /** Write the engine's pushes after `written`, in order, within the window and while the socket takes them. */
  pump(): void {
    const link = this.link;
    while (link !== undefined && !this.reading && link.writable && this.written < this.known && this.written < this.acked + this.window) {
      const frame = this.frames.get(this.written + 1);
      if (frame === undefined) {
        void this.read(link);
        return;
      }
      this.written++;
      link.push(frame);
    }
  }

  /** The session ended here: every pending `send()` rejects with `ClosedError`. */
  closeAll(reason: SessionCloseReason, closeCode: number | undefined): void {
    if (this.ended !== undefined) return;
    this.ended = reason;
    const text = closeText[reason];
    for (const p of [...this.pending.values()]) this.fail(p, new ClosedError(`session.send() of ${p.id}: ${text}`, { maybeDelivered: true, closeCode }));
    // Never handed to the engine: not delivered.
    for (const q of this.toAppend) this.fail(q.p, new ClosedError(`session.send() of ${q.p.id}: ${text}`, { maybeDelivered: false, closeCode }));
    this.toAppend = [];
    this.frames.clear();
  }

  /** Past its deadline (the node-wide timer). */
  expire(p: PendingPush): void {
    this.fail(p, new AckTimeoutError(p.id, p.handed, p.timeoutMs));
  }

  private appended(p: PendingPush, seq: number, frame: unknown): void {
    if (seq > this.known) this.known = seq;
    if (this.ended !== undefined) this.fail(p, new ClosedError(`session.send() of ${p.id}: ${closeText[this.ended]}`, { maybeDelivered: true }));
    if (p.settled) return;
    if (seq <= this.acked) {
      this.settle(p);
      p.resolve();
      return;
    }
    p.seq = seq;
    this.pending.set(seq, p);
    this.frames.set(seq, frame);
    this.pump();
  }

  /** Pushes this node did not append (another node did, or an earlier connection's): read them from the engine. */
  private async read(link: OutboundLink): Promise<void> {
    this.reading = true;
    const from = this.written;
    try {
      const stored = await this.deps.engine.pushes.list(this.sid, from, Math.max(1, this.acked + this.window - from));
      // Another connection, or the mark moved meanwhile: the pump below starts again from there.
      if (this.link === link && this.written === from) this.writeStored(link, stored);
    } catch (error) {
      this.deps.engineFailed(error);
      return;
    } finally {
      this.reading = false;
    }
    this.pump();
  }

  private writeStored(link: OutboundLink, stored: readonly { seq: number; data: string }[]): void {
    for (const s of stored) {
      // The engine drops only what the client acknowledged (on another node, maybe): skip past it.
      if (s.seq <= this.written) continue;
      this.written = s.seq;
      if (s.seq > this.known) this.known = s.seq;
      const parts = loadPush(this.codec, s.data);
      if (parts === undefined) {
        this.deps.reportError(new Error(`session ${this.sid}: stored push ${s.seq} is not in the expected form; skipped`));
        continue;
      }
      link.push(this.codec.msg(s.seq, this.codec.value(parts.id), parts.ts, parts.d));
    }
    // Nothing left after the mark: what this node believed the engine held was acknowledged.
    if (stored.length === 0 && this.written < this.known) this.known = this.written;
  }

  /** Tell the engine the client's mark, one call at a time (the latest mark wins). */
  private async ackEngine(): Promise<void> {
    if (this.acking) return;
    this.acking = true;
    try {
      while (this.ackSent < this.acked) {
        const seq = this.acked;
        await this.deps.engine.pushes.ack(this.sid, seq);
        this.ackSent = seq;
      }
    } catch (error) {
      // The next cack (or the next resume, which acks `hello.resume.seq`) carries the mark again.
      this.deps.reportError(error);
    } finally {
      this.acking = false;
    }
  }

  private fail(p: PendingPush, error: Error): void {
    if (p.settled) return;
    this.settle(p);
    p.reject(error);
  }

  private settle(p: PendingPush): void {
    p.settled = true;
    if (p.seq > 0) this.pending.delete(p.seq);
    this.deps.deadlines.delete(p);
    if (p.onAbort !== undefined) p.signal?.removeEventListener('abort', p.onAbort);
  }
}
