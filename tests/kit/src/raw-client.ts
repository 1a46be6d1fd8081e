import WebSocket from 'ws';
import { onCleanup } from './cleanup.js';

/** A frame as a raw client sees it: parsed JSON, loosely typed on purpose. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyFrame = Record<string, any>;

/** An ack as `acks()` flattens it from `ack` and `acks` frames. */
export type RawAck = { seq: number; r?: unknown; e?: { code: string; message: string } };

/**
 * A client that speaks the protocol by hand over `ws`. Every WebSocket message is kept (`messages`)
 * and its frames queued; `next()` takes the first queued frame that matches, waiting with a deadline.
 */
export class RawClient {
  readonly messages: string[] = [];
  /** How many of `messages` came as binary messages (their bytes are read as UTF-8 JSON). */
  binaryMessages = 0;
  /** How binary messages are read when not UTF-8 JSON (set it to `msgpackCodec.decode` for a msgpack session). */
  readBinary: ((data: Buffer) => unknown[]) | undefined;
  private readonly frames: AnyFrame[] = [];
  /** Called by the reader when a frame or the close arrives (see `takeFrame`). */
  wake: (() => void) | undefined;
  readonly closed: Promise<{ code: number; reason: string }>;
  closeCode: number | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => {
      if (isBinary) this.binaryMessages++;
      if (isBinary && this.readBinary !== undefined) {
        this.messages.push((data as Buffer).toString('base64'));
        this.frames.push(...(this.readBinary(data as Buffer) as AnyFrame[]));
        this.wake?.();
        return;
      }
      const text = (data as Buffer).toString();
      this.messages.push(text);
      const value = JSON.parse(text) as AnyFrame | AnyFrame[];
      this.frames.push(...(Array.isArray(value) ? value : [value]));
      this.wake?.();
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeCode = code;
        resolve({ code, reason: reason.toString() });
        this.wake?.();
      });
    });
  }

  /** Open a WebSocket to `url` (no hello yet); `closeAll` terminates it. */
  static open(url: string, timeoutMs = 2_000): Promise<RawClient> {
    const ws = new WebSocket(url);
    const client = new RawClient(ws);
    onCleanup(() => ws.terminate());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no open within ${timeoutMs} ms`)), timeoutMs);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve(client);
      });
      ws.once('close', (code) => {
        clearTimeout(timer);
        reject(new Error(`closed (${code}) before open`));
      });
    });
  }

  /** Open, say hello, await welcome. */
  static async connect(url: string, hello: AnyFrame = {}): Promise<{ client: RawClient; welcome: AnyFrame }> {
    const client = await RawClient.open(url);
    const welcome = await client.hello(hello);
    return { client, welcome };
  }

  send(frame: AnyFrame | AnyFrame[] | string | Buffer): void {
    this.ws.send(typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame));
  }

  async hello(extra: AnyFrame = {}): Promise<AnyFrame> {
    this.send({ t: 'hello', v: 1, ...extra });
    return this.next((f) => f.t === 'welcome');
  }

  /** Send client messages with the given seqs (one WebSocket message when `batch`). */
  sendMsgs(items: Array<{ seq: number; d: unknown; id?: string }>, batch = true): void {
    const frames = items.map(({ seq, d, id }) => ({ t: 'msg', seq, id: id ?? `c${seq}`, ts: Date.now(), d }));
    if (batch) this.send(frames.length === 1 ? (frames[0] as AnyFrame) : frames);
    else for (const f of frames) this.send(f);
  }

  /** Take the first queued frame matching `match` (default: anything but ping), waiting up to `timeoutMs`. */
  next(match: (f: AnyFrame) => boolean = (f) => f.t !== 'ping', timeoutMs = 2_000): Promise<AnyFrame> {
    return takeFrame(this, match, timeoutMs);
  }

  /** Acks for client seqs, flattened from `ack` and `acks` frames, until `count` are collected. */
  async acks(count: number, timeoutMs = 2_000): Promise<RawAck[]> {
    const out: RawAck[] = [];
    while (out.length < count) {
      const f = await this.next((x) => x.t === 'ack' || x.t === 'acks', timeoutMs);
      if (f.t === 'acks') (f.r as unknown[]).forEach((r, i) => out.push({ seq: (f.seq as number) + i, r }));
      else {
        const { t: _t, ...ack } = f;
        out.push(ack as { seq: number });
      }
    }
    return out;
  }

  /** Resolve with the close code, or reject after `timeoutMs`. */
  async closedWith(timeoutMs = 2_000): Promise<number> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not closed within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return (await Promise.race([this.closed, timeout])).code;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Frames still queued (not taken by `next`). */
  get pending(): readonly AnyFrame[] {
    return this.frames;
  }
}

/** What `takeFrame` needs of a client: its queue, its close code, and a slot for the wake-up its reader calls. */
export interface FrameQueue {
  readonly pending: readonly AnyFrame[];
  readonly closeCode: number | undefined;
  wake: (() => void) | undefined;
}

/**
 * Take the first queued frame of `client` that matches, waiting up to `timeoutMs`; throws when
 * the client closes first or the deadline passes (naming what was queued).
 */
export async function takeFrame(client: FrameQueue, match: (f: AnyFrame) => boolean, timeoutMs: number): Promise<AnyFrame> {
  const frames = client.pending as AnyFrame[];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const i = frames.findIndex(match);
    if (i >= 0) return frames.splice(i, 1)[0] as AnyFrame;
    if (client.closeCode !== undefined) throw new Error(`closed with ${client.closeCode} while waiting for a frame`);
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`no matching frame within ${timeoutMs} ms; queued: ${JSON.stringify(frames).slice(0, 300)}`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, left);
      client.wake = () => {
        clearTimeout(timer);
        client.wake = undefined;
        resolve();
      };
    });
  }
}
