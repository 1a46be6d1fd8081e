import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { WAIT_MS, until } from '@lifeline/test-kit';

/** Loose frame shape: the fake server checks what tests need, not the whole protocol. */
export type AnyFrame = { t: string } & Record<string, unknown>;

export interface Session {
  readonly sid: string;
  token: string;
  /** Highest client seq accepted. */
  accepted: number;
  /** Results by client seq, to answer duplicates (the real server's result cache). */
  readonly results: Map<number, unknown>;
  /** Next server → client seq. */
  nextSeq: number;
  /** Highest seq the client acknowledged with cack. */
  cacked: number;
}

export interface Conn {
  readonly socket: WebSocket;
  readonly hello: AnyFrame;
  readonly session: Session;
  /** Raw WebSocket messages received after hello. */
  readonly raw: string[];
  /** Frames received after hello, flattened. */
  readonly frames: AnyFrame[];
  send(frame: AnyFrame | AnyFrame[]): void;
  /** Send server messages with the session's next seqs, in one batch. */
  push(...data: unknown[]): number[];
}

export interface FakeServerOptions {
  /**
   * Answer each client msg automatically; returning undefined leaves it unacked (and unaccepted).
   * `false`: never answer (tests ack by hand). @default echo: r = { echo: d }
   */
  handler?: ((data: unknown, frame: AnyFrame, conn: Conn) => unknown) | false;
  /** Whether a hello.resume naming a known session is resumed. @default true */
  resume?: boolean;
  /** Give a new token in every resumed welcome (the real server does; only the newest is accepted here). @default false */
  rotateTokens?: boolean;
  win?: number;
  max?: number;
  /** Offer `got` in the welcome (the real server does on one node). @default false */
  got?: boolean;
  /** Called with each hello before the welcome; may close the socket instead (return false). */
  onHello?: (hello: AnyFrame, socket: WebSocket) => boolean | void;
}

/**
 * A hand-written Lifeline server for session tests: enough of docs/protocol.md to drive the client
 * (hello/welcome with resume, msg/ack/acks, cack, ping/pong), with a log of what it received.
 * Independent of @lifeline/server by design.
 */
export class FakeServer extends EventEmitter {
  readonly conns: Conn[] = [];
  readonly sessions = new Map<string, Session>();
  /** Every client msg frame received, across connections, in arrival order. */
  readonly msgs: AnyFrame[] = [];
  url = '';
  private wss: WebSocketServer | undefined;
  private counter = 0;

  constructor(readonly options: FakeServerOptions = {}) {
    super();
  }

  async start(): Promise<this> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    this.wss = wss;
    await new Promise<void>((resolve) => wss.once('listening', resolve));
    this.url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
    wss.on('connection', (socket) => this.accept(socket));
    return this;
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.socket.terminate();
    const wss = this.wss;
    if (wss) {
      for (const s of wss.clients) s.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    }
  }

  /** Resolves with the n-th (1-based) connection that completed hello/welcome. */
  async conn(n: number): Promise<Conn> {
    await until(this, 'conn', () => this.conns[n - 1] !== undefined, WAIT_MS, `connection ${n}`);
    return this.conns[n - 1] as Conn;
  }

  /** Resolves once `predicate()` holds, re-checked after every received frame. */
  until(predicate: () => boolean): Promise<void> {
    return until(this, ['frame', 'conn'], predicate, WAIT_MS, 'a condition checked on every frame');
  }

  private accept(socket: WebSocket): void {
    socket.on('error', () => {});
    socket.once('message', (data) => {
      const hello = JSON.parse(String(data)) as AnyFrame;
      this.emit('hello', hello);
      if (this.options.onHello?.(hello, socket) === false) return;
      const resume = hello.resume as { sid: string; token: string; seq: number } | undefined;
      let session = resume ? this.sessions.get(resume.sid) : undefined;
      const resumed = session !== undefined && (this.options.resume ?? true) && session.token === resume?.token;
      if (!resumed || session === undefined) {
        session = { sid: `sid-${++this.counter}`, token: `token-${this.counter}`, accepted: 0, results: new Map(), nextSeq: 1, cacked: 0 };
        this.sessions.set(session.sid, session);
      } else if (resume) {
        session.cacked = Math.max(session.cacked, resume.seq);
        if (this.options.rotateTokens === true) session.token = `${session.token}+`;
      }
      const s = session;
      const conn: Conn = {
        socket,
        hello,
        session: s,
        raw: [],
        frames: [],
        send: (frame) => socket.send(JSON.stringify(frame)),
        push: (...data) => {
          const seqs = data.map(() => s.nextSeq++);
          const frames = data.map((d, i) => ({ t: 'msg', seq: seqs[i], id: `s${seqs[i]}`, ts: Date.now(), d }));
          socket.send(JSON.stringify(frames.length === 1 ? frames[0] : frames));
          return seqs;
        },
      };
      socket.send(
        JSON.stringify({
          t: 'welcome',
          v: 1,
          sid: s.sid,
          token: s.token,
          resumed,
          seq: s.accepted,
          win: this.options.win ?? 1024,
          hb: 15_000,
          max: this.options.max ?? 1_048_576,
          got: this.options.got,
        }),
      );
      socket.on('message', (raw) => this.onMessage(conn, String(raw)));
      this.conns.push(conn);
      this.emit('conn', conn);
    });
  }

  private onMessage(conn: Conn, text: string): void {
    conn.raw.push(text);
    const parsed = JSON.parse(text) as AnyFrame | AnyFrame[];
    const frames = Array.isArray(parsed) ? parsed : [parsed];
    const handler = this.options.handler ?? ((d: unknown) => ({ echo: d }));
    for (const f of frames) {
      conn.frames.push(f);
      if (f.t === 'msg') {
        this.msgs.push(f);
        const seq = f.seq as number;
        const s = conn.session;
        if (seq <= s.accepted) {
          if (s.results.has(seq)) conn.send({ t: 'ack', seq, r: s.results.get(seq) as never });
        } else if (handler !== false) {
          // A handler returning undefined leaves the message unanswered and unaccepted, as if it
          // had been lost on the way: a retransmission is handled afresh.
          const r = handler(f.d, f, conn);
          if (r !== undefined) {
            s.accepted = seq;
            s.results.set(seq, r);
            conn.send({ t: 'ack', seq, r: r as never });
          }
        }
      } else if (f.t === 'cack') {
        conn.session.cacked = Math.max(conn.session.cacked, f.seq as number);
      } else if (f.t === 'ping') {
        conn.send({ t: 'pong', ts: f.ts as number, at: Date.now() });
      }
      this.emit('frame', f, conn);
    }
  }
}
