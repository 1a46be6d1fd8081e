import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { nanoid } from 'nanoid';
import { CloseCode, Deadlines, PROTOCOL_VERSION, now as monotonic, type Frame, type HelloFrame, type ResumeRequest } from '@lifeline/protocol';
import { ReadPause, type Connection } from './connection.js';
import type { ServerContext } from './context.js';
import { SessionImpl } from './session.js';

/** What `authenticate` resolves to when it refused (the connection is already closed). */
const refused = Symbol('refused');

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Compare digests, not tokens: equal lengths, and constant time whatever the guess. */
function tokenMatches(token: string, tokenHash: string): boolean {
  const expected = Buffer.from(tokenHash, 'hex');
  const actual = createHash('sha256').update(token).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

const sortKeys = (_key: string, value: unknown): unknown => {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  // No prototype: assigning '__proto__' on a plain object would call the setter and drop the key,
  // letting two different identities share one key (found by the handshake fuzz).
  const sorted: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const k of Object.keys(value).sort()) sorted[k] = (value as Record<string, unknown>)[k];
  return sorted;
};

const opaqueKeys = new WeakMap<object, string>();

/**
 * A stable key of an identity: JSON with sorted object keys, so `{ a, b }` and `{ b, a }` are
 * the same user. A value JSON cannot encode matches only itself.
 */
export function identityKey(identity: unknown): string {
  try {
    const json = JSON.stringify(identity, sortKeys);
    if (json !== undefined) return `j:${json}`;
  } catch {
    // fall through: cycles, BigInt
  }
  if ((typeof identity === 'object' && identity !== null) || typeof identity === 'function') {
    let key = opaqueKeys.get(identity);
    if (key === undefined) opaqueKeys.set(identity, (key = `o:${nanoid()}`));
    return key;
  }
  return `s:${String(identity)}`;
}

/**
 * The first frames of a connection (protocol.md, `hello`/`welcome` and "Resume"): a valid
 * `hello` first and only once, `authenticate`, then a new session or a resume, all within
 * `handshakeTimeoutMs` (one `Deadlines` timer for every pending handshake).
 */
export class Handshakes {
  private readonly deadlines: Deadlines<Connection>;

  constructor(
    private readonly ctx: ServerContext,
    private readonly onSession: (session: SessionImpl) => void,
  ) {
    this.deadlines = new Deadlines((conn) => this.timedOut(conn), { resolutionMs: 5 });
  }

  begin(conn: Connection): void {
    this.deadlines.add(conn, monotonic() + this.ctx.options.handshakeTimeoutMs);
  }

  /** Connections between upgrade and `welcome` (for `maxPendingHandshakes`). */
  get pending(): number {
    return this.deadlines.size;
  }

  forget(conn: Connection): void {
    this.deadlines.delete(conn);
  }

  stop(): void {
    this.deadlines.clear();
  }

  /**
   * Frames before `welcome`: the first must be `hello`; the rest wait for the session, and the
   * socket is not read while they do (a slow `authenticate` must not make us buffer a flood).
   * What was read before the pause took hold is bounded in frames and in bytes.
   */
  onFrames(conn: Connection, frames: Frame[]): void {
    let hello: HelloFrame | undefined;
    let i = 0;
    if (!conn.helloSeen) {
      const first = frames[0] as Frame;
      if (first.t !== 'hello') {
        conn.fail(CloseCode.BadFrame, `expected hello, got ${first.t}`);
        return;
      }
      conn.helloSeen = true;
      hello = first;
      i = 1;
    }
    const limit = this.ctx.options.maxInFlight + 64;
    const maxBytes = this.ctx.options.maxInboundBytes;
    for (; i < frames.length; i++) {
      const f = frames[i] as Frame;
      if (f.t === 'hello') {
        conn.fail(CloseCode.BadFrame, 'a second hello');
        return;
      }
      const held = (conn.held ??= []);
      held.push(f);
      conn.heldBytes += conn.frameBytes;
      if (held.length > limit) {
        conn.fail(CloseCode.BadFrame, 'too many frames before welcome');
        return;
      }
      if (conn.heldBytes > maxBytes) {
        conn.fail(CloseCode.BadFrame, `more than ${maxBytes} bytes before welcome`);
        return;
      }
    }
    if (conn.held !== undefined) conn.pauseReading(ReadPause.Held);
    // Started last, so the frames that came with hello are held before the session can open.
    if (hello !== undefined) void this.accept(conn, hello);
  }

  private timedOut(conn: Connection): void {
    // Refused during its handshake and the peer has not answered the close frame since: a last second.
    if (conn.state === 'closing') this.ctx.limits.linger(conn);
    if (conn.state !== 'handshake') return;
    const ms = this.ctx.options.handshakeTimeoutMs;
    conn.fail(CloseCode.HandshakeTimeout, conn.helloSeen ? `handshake not finished within ${ms} ms` : `no hello within ${ms} ms`);
    this.ctx.limits.linger(conn);
  }

  private async accept(conn: Connection, hello: HelloFrame): Promise<void> {
    try {
      const identity = await this.authenticate(conn, hello);
      if (identity === refused || conn.state !== 'handshake') return;
      const resume = hello.resume;
      if (resume !== undefined) {
        const record = await this.ctx.store.get(resume.sid);
        if (conn.state !== 'handshake') return;
        const live = this.ctx.registry.get(resume.sid);
        if (record !== undefined && live !== undefined && live.state !== 'closed' && this.ctx.registry.live(record)) {
          // Both checks always run: which one failed is not the peer's business.
          const tokenOk = tokenMatches(resume.token, record.tokenHash);
          const identityOk = identityKey(identity) === record.identityKey;
          if (!tokenOk || !identityOk) {
            conn.fail(CloseCode.Forbidden, 'resume refused: token or identity does not match');
            return;
          }
          if (this.refuseWhileClosing(conn)) return;
          this.resume(conn, live, hello, resume);
          return;
        }
      }
      if (this.refuseWhileClosing(conn)) return;
      if (!this.ctx.limits.admitSession(conn, this.ctx.registry.sessions.size)) return;
      this.start(conn, hello, identity);
    } catch (error) {
      this.ctx.reportError(error);
      if (conn.state === 'handshake') conn.close(CloseCode.InternalError, 'internal error');
    }
  }

  private async authenticate(conn: Connection, hello: HelloFrame): Promise<unknown> {
    const authenticate = this.ctx.options.authenticate;
    if (authenticate === undefined) return null;
    let identity: unknown;
    try {
      identity = await authenticate(hello.auth, conn.req);
    } catch {
      identity = undefined;
    }
    if (identity === false || identity === null || identity === undefined) {
      if (conn.state === 'handshake') conn.fail(CloseCode.Unauthorized, 'unauthorized');
      return refused;
    }
    return identity;
  }

  private refuseWhileClosing(conn: Connection): boolean {
    if (!this.ctx.closing) return false;
    conn.writer.push('{"t":"bye","code":1001,"reason":"server shutting down"}');
    conn.close(CloseCode.GoingAway, 'server shutting down');
    return true;
  }

  private start(conn: Connection, hello: HelloFrame, identity: unknown): void {
    const token = randomBytes(32).toString('base64url');
    const id = nanoid();
    const session = new SessionImpl(id, identity, { id, tokenHash: hashToken(token), identityKey: identityKey(identity), expiresAt: null }, this.ctx);
    this.ctx.registry.add(session);
    this.open(conn, session, hello, token, false, 0);
    this.onSession(session);
    this.release(conn);
  }

  private resume(conn: Connection, session: SessionImpl, hello: HelloFrame, resume: ResumeRequest): void {
    const previous = session.connection;
    const downtimeMs = previous === undefined ? monotonic() - session.detachedAt : 0;
    if (previous !== undefined) previous.close(CloseCode.Replaced, 'replaced by a newer connection');
    const replayed = this.open(conn, session, hello, resume.token, true, resume.seq);
    const plugins = this.ctx.plugins;
    if (plugins.active) plugins.onResume({ resumed: true, replayed, downtimeMs, at: monotonic() }, session.pluginContext);
    this.release(conn);
  }

  /** Send `welcome` and hand the connection to the session; returns the messages replayed. */
  private open(conn: Connection, session: SessionImpl, hello: HelloFrame, token: string, resumed: boolean, ackSeq: number): number {
    this.deadlines.delete(conn);
    conn.state = 'open';
    const o = this.ctx.options;
    conn.writer.push(
      JSON.stringify({
        t: 'welcome',
        v: PROTOCOL_VERSION,
        sid: session.id,
        token,
        resumed,
        seq: session.inbound.accepted,
        win: o.maxInFlight,
        hb: o.heartbeatIntervalMs,
        max: o.maxPayloadBytes,
      }),
    );
    return session.attach(conn, hello.win, ackSeq);
  }

  /** Frames that arrived with or after `hello` are handled now, in order, and the socket is read again. */
  private release(conn: Connection): void {
    const held = conn.held;
    const frameBytes = held === undefined ? 0 : Math.ceil(conn.heldBytes / held.length);
    conn.held = undefined;
    conn.heldBytes = 0;
    conn.resumeReading(ReadPause.Held);
    if (held !== undefined && conn.state === 'open') conn.dispatch(held, frameBytes);
  }
}
