import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { onCleanup } from './cleanup.js';
import { takeFrame, type AnyFrame } from './raw-client.js';
import { within } from './within.js';

/** A masked client text frame (RFC 6455 §5.2), with the 16- and 64-bit length forms. */
export function clientFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const n = payload.length;
  let header: Buffer;
  if (n < 126) header = Buffer.from([0x81, 0x80 | n]);
  else if (n < 65_536) header = Buffer.from([0x81, 0x80 | 126, n >> 8, n & 0xff]);
  else {
    header = Buffer.alloc(10);
    header[0] = 0x81;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(n), 2);
  }
  const mask = randomBytes(4);
  for (let i = 0; i < n; i++) payload[i] = (payload[i] as number) ^ (mask[i & 3] as number);
  return Buffer.concat([header, mask, payload]);
}

export interface WireClientOptions {
  /** Deadline of the TCP connect and of the upgrade. @default 2_000 */
  timeoutMs?: number;
  /**
   * Never answer: no pong to the server's pings, and neither a close frame nor a FIN after the
   * server's close frame, as a peer that has gone away or a hostile one. @default false
   */
  deaf?: boolean;
}

/**
 * A WebSocket client written by hand on a TCP socket, for attacks `ws` would not make: it can
 * stop reading (the kernel buffers fill and the server's writes back up) while it keeps writing,
 * and it sees exactly what the server wrote. Server frames are parsed as they arrive while it
 * reads, whatever their length; text frames are decoded as Lifeline frames, and pings are
 * answered unless it is `deaf`.
 */
export class WireClient {
  private buf: Buffer = Buffer.alloc(0);
  private readonly frames: AnyFrame[] = [];
  /** Called by the reader when a frame or the close arrives (see `takeFrame`). */
  wake: (() => void) | undefined;
  /** Lifeline frames received so far (batches flattened), including those taken by `next`. */
  received = 0;
  /** The code of the server's close frame, or 1006 once the socket is gone without one. */
  closeCode: number | undefined;
  /** Settles when the TCP socket is closed, by either side. */
  readonly closed: Promise<unknown>;

  private constructor(
    readonly socket: Socket,
    private readonly deaf: boolean,
  ) {
    this.closed = once(socket, 'close');
    socket.on('data', (chunk: Buffer) => {
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      this.parse();
    });
    socket.on('close', () => {
      this.closeCode ??= 1006;
      this.wake?.();
    });
  }

  /** Open a TCP socket to `port` on 127.0.0.1 and upgrade it; `closeAll` destroys it. */
  static async connect(port: number, options: WireClientOptions = {}): Promise<WireClient> {
    const timeoutMs = options.timeoutMs ?? 2_000;
    const socket = connect(port, '127.0.0.1');
    onCleanup(() => socket.destroy());
    socket.on('error', () => {});
    await within(once(socket, 'connect'), 'the TCP connect', timeoutMs);
    const key = randomBytes(16).toString('base64');
    socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    let head = Buffer.alloc(0);
    const rest = await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no upgrade within ${timeoutMs} ms`)), timeoutMs);
      const onData = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end === -1) return;
        clearTimeout(timer);
        socket.off('data', onData);
        if (!head.subarray(0, 12).toString().includes('101')) reject(new Error(`upgrade refused: ${head.toString()}`));
        else resolve(head.subarray(end + 4));
      };
      socket.on('data', onData);
    });
    const client = new WireClient(socket, options.deaf ?? false);
    if (rest.length > 0) socket.emit('data', rest);
    return client;
  }

  /** Write one text message; false when the socket's own buffer is full (wait for `drain`). */
  send(message: AnyFrame | AnyFrame[] | string): boolean {
    return this.socket.write(clientFrame(typeof message === 'string' ? message : JSON.stringify(message)));
  }

  /** Say hello (with `extra` fields) and take the welcome. */
  async hello(extra: AnyFrame = {}): Promise<AnyFrame> {
    this.send({ t: 'hello', v: 1, ...extra });
    return this.next((f) => f.t === 'welcome');
  }

  /** Stop reading: what the server writes stays in the kernel buffers, then in the server. */
  stopReading(): void {
    this.socket.pause();
  }

  startReading(): void {
    this.socket.resume();
  }

  /** Take the first received frame that matches, waiting up to `timeoutMs`. */
  next(match: (f: AnyFrame) => boolean = (f) => f.t !== 'ping', timeoutMs = 2_000): Promise<AnyFrame> {
    return takeFrame(this, match, timeoutMs);
  }

  /** Frames received and not yet taken by `next`. */
  get pending(): readonly AnyFrame[] {
    return this.frames;
  }

  /** Seqs acknowledged (from `ack` and `acks`) until `count` are collected; results are dropped. */
  async ackedSeqs(count: number, timeoutMs = 5_000): Promise<number[]> {
    const seqs: number[] = [];
    while (seqs.length < count) {
      const f = await this.next((x) => x.t === 'ack' || x.t === 'acks', timeoutMs);
      const n = f.t === 'acks' ? (f.r as unknown[]).length : 1;
      for (let i = 0; i < n; i++) seqs.push((f.seq as number) + i);
    }
    return seqs;
  }

  /** The close code the server sent, or 1006 once the socket is gone without one. */
  async closedWith(timeoutMs = 2_000): Promise<number> {
    await this.next(() => false, timeoutMs).catch(() => undefined);
    if (this.closeCode === undefined) throw new Error(`not closed within ${timeoutMs} ms`);
    return this.closeCode;
  }

  private parse(): void {
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      const opcode = (b[0] as number) & 0x0f;
      let len = (b[1] as number) & 0x7f;
      let at = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        at = 10;
      }
      if (b.length < at + len) return;
      const payload = b.subarray(at, at + len);
      this.buf = b.subarray(at + len);
      if (opcode === 0x8) {
        this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        if (!this.deaf) this.socket.end();
      } else if (opcode === 0x1) {
        const value = JSON.parse(payload.toString()) as AnyFrame | AnyFrame[];
        const frames = Array.isArray(value) ? value : [value];
        this.received += frames.length;
        for (const f of frames) {
          // As a real client does, so only the pauses under test make the connection look silent.
          if (f.t === 'ping' && !this.deaf) this.socket.write(clientFrame(JSON.stringify({ t: 'pong', ts: f.ts, at: Date.now() })));
          this.frames.push(f);
        }
      }
      this.wake?.();
    }
  }
}
