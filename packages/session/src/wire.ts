import { CloseCode, ProtocolError, jsonCodec, type Codec, type Frame } from '@lifeline/protocol';
import { FrameWriter, MAX_BATCH_SIZE } from '@lifeline/protocol/internal';

/** What the wire writes to: the transport, which holds the open connection. */
export interface WireLink {
  /** Write one WebSocket message; false (dropped) when no connection is open. */
  send(message: unknown): boolean;
  /** False while the socket buffers more than its high-water mark, or none is open. */
  readonly writable: boolean;
}

/**
 * A producer the writer pulls from at the start of every flush: what it aggregated since the
 * last one goes out as one frame. The inbox's cumulative ack is the one there is: however many
 * messages were delivered during a turn, one `cack` leaves.
 */
export interface CackSource {
  /** The `cack.seq` due, if any; taking it marks it sent. */
  takeCack(): number | undefined;
  /**
   * A `cack` is due and more deliveries may follow soon (messages are held for `receive()` or an
   * iterator, each taken in a microtask of its own): the flush may wait for the end of the macrotask.
   */
  cackLingers(): boolean;
}

/** The outbox's `got`: at most one per flush, when the answers received moved its mark far enough. */
export interface GotSource {
  takeGot(): number | undefined;
}

/** The channel subscriptions' `pack`s: one per channel per flush, for what the application took. */
export interface PackSource {
  pushPacks(push: (frame: unknown) => void): void;
}

/** Byte counts for plugins (`onBytes`), in the codec's size units. */
export type ByteMeter = (inbound: number, outbound: number) => void;

/**
 * The client's wire layer, between the session and the transport: every frame after the
 * handshake is encoded and decoded here with the session's codec, and frames written during one
 * turn leave as one WebSocket message (`FrameWriter`). Outbound: outbox or dispatch → `push` →
 * writer → `link.send`; inbound: transport message → `decode` → dispatch.
 */
export class Wire {
  private current: Codec = jsonCodec;
  /** Built for its codec: replaced (never kept elsewhere) when a welcome names another. */
  private writer: FrameWriter<unknown>;
  private packs: PackSource | undefined;
  private gots: GotSource | undefined;

  constructor(
    private readonly link: WireLink,
    private readonly cacks: CackSource,
    private readonly meter: ByteMeter,
  ) {
    this.writer = this.writerFor(this.current);
  }

  /** From now on, the `got` of `source` joins a flush when it is due. */
  pullGots(source: GotSource): void {
    this.gots = source;
  }

  /** From now on, the `pack`s of `source` join every flush. */
  pullPacks(source: PackSource): void {
    this.packs = source;
  }

  /** The session's codec: JSON until a `welcome` names another. */
  get codec(): Codec {
    return this.current;
  }

  get writable(): boolean {
    return this.link.writable;
  }

  /** Write one frame, encoded with `codec`: it leaves at the end of this turn, batched with the others. */
  push(frame: unknown): void {
    this.writer.push(frame);
  }

  /** A producer has something for the next flush (see `CackSource`): flush at the end of this turn. */
  schedule(): void {
    this.writer.schedule();
  }

  /** Write what is batched now (before a close). */
  flush(): void {
    this.writer.flush();
  }

  /** The connection went down: what was batched for it is dropped (the queue retransmits what matters). */
  discard(): void {
    this.writer.discard();
  }

  /** A connection was established: its codec (`welcome.codec`) and its message bound (`welcome.max`, bytes). */
  established(codec: Codec, maxBytes: number): void {
    if (codec !== this.current) {
      this.current = codec;
      this.writer = this.writerFor(codec);
    }
    // A batch must fit welcome.max: in bytes, or in UTF-8 text (at most 3 bytes per UTF-16 unit).
    this.writer.maxSize = Math.min(MAX_BATCH_SIZE, Math.max(1, codec.binary ? maxBytes : Math.floor(maxBytes / 3)));
  }

  /** The frames of one inbound message; throws `ProtocolError` for anything the codec refuses. */
  decode(message: unknown): Frame[] {
    const codec = this.current;
    this.meter(codec.size(message), 0);
    try {
      return codec.decode(message);
    } catch (error) {
      throw toProtocolError(error);
    }
  }

  private writerFor(codec: Codec): FrameWriter<unknown> {
    return new FrameWriter(codec, this.write, MAX_BATCH_SIZE, this.beforeFlush, this.lingers);
  }

  private readonly write = (message: unknown): void => {
    this.meter(0, this.current.size(message));
    this.link.send(message);
  };

  private readonly beforeFlush = (): void => {
    const seq = this.cacks.takeCack();
    if (seq !== undefined) this.writer.push(this.current.cack(seq));
    const got = this.gots?.takeGot();
    if (got !== undefined) this.writer.push(this.current.got(got));
    this.packs?.pushPacks(this.pushPack);
  };

  private readonly pushPack = (frame: unknown): void => this.writer.push(frame);

  private readonly lingers = (): boolean => this.cacks.cackLingers();
}

export function toProtocolError(error: unknown): ProtocolError {
  return error instanceof ProtocolError ? error : new ProtocolError(String(error), CloseCode.BadFrame, { cause: error });
}
