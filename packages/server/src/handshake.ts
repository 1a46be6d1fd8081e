import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { nanoid } from 'nanoid';
import { CloseCode, PROTOCOL_VERSION, jsonCodec, type Codec, type Frame, type HelloFrame } from '@lifeline/protocol';
import { Deadlines, chooseCodec, now as monotonic, offers, type PluginHost } from '@lifeline/protocol/internal';
import type { Connection } from './connection.js';
import type { Heartbeat } from './heartbeat.js';
import { identityHash } from './identity.js';
import type { Limits } from './limits.js';
import { ReadPause } from './link.js';
import type { ResolvedOptions } from './options.js';
import type { Registry } from './registry.js';
import type { SessionImpl } from './session.js';
import type { SessionRecord, SessionStore } from './store.js';
import type { SessionLimits, StoredSession, TokenRotation } from './engine/engine-sessions.js';
import type { SharedNode } from './shared/node.js';

/** The shared path (an engine with session state): where sessions are created, checked and rotated. */
export interface SharedHandshakeDeps {
  readonly node: SharedNode;
  /** The bounds every session is created with (the resume window as its TTL, the cache bounds). */
  readonly limits: SessionLimits;
}

/** What the server gives the handshakes. */
export interface HandshakeDeps {
  readonly options: ResolvedOptions;
  readonly plugins: PluginHost;
  /** What a resume is checked against. */
  readonly store: Pick<SessionStore, 'get'>;
  readonly registry: Pick<Registry, 'get' | 'add' | 'adopt' | 'live' | 'rotated' | 'recordOf' | 'size' | 'countOf' | 'oldestDetached'>;
  readonly limits: Pick<Limits, 'admitSession' | 'linger'>;
  /** Watches every open connection. */
  readonly heartbeat: Pick<Heartbeat, 'add'>;
  /** True once `server.close()` began: no new sessions start. */
  closing(): boolean;
  /** A new session in `codec`, for `identity`. */
  newSession(id: string, identity: unknown, codec: Codec): SessionImpl;
  /** A new session was opened (the server's `session` event). */
  onSession(session: SessionImpl): void;
  reportError(error: unknown): void;
  /** Set on an engine with session state: sessions live there, any node may resume them (guarantee 10). */
  readonly shared?: SharedHandshakeDeps;
}

/** What `authenticate` resolves to when it refused or failed (the connection is already closing). */
const refused = Symbol('refused');

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Compare hex digests in constant time (equal lengths, whatever the guess). */
function sameDigest(a: string, b: string | null): boolean {
  if (b === null) return false;
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

const newToken = (): string => randomBytes(32).toString('base64url');

/**
 * The id of the session a `hello` with this nonce opens: the same for every `hello` of one
 * client's attempt, so a retried `hello` finds the session its lost `welcome` announced (on
 * any node: the shared engine is looked up by id). Salted with the identity, so a nonce names
 * nothing of another identity's; 128 bits in 22 characters, as a nanoid is 126 in 21. Encoded
 * from the first 16 bytes rather than sliced from the whole digest's text: a slice would keep
 * the whole text alive behind it for as long as the session lives (issue 14: idle memory).
 */
export function sessionIdFor(identityOf: string, nonce: string): string {
  return createHash('sha256').update(`lifeline session\0${identityOf}\0${nonce}`).digest().toString('base64url', 0, 16);
}

/**
 * Whether `token` may resume the session of `record` (protocol.md, "Resume"): the current token
 * always (`accept`); the previous one only while the session is `detached`, for a client whose
 * link died right after the `welcome` that rotated it. The previous one while the session is
 * attached is `retry`: that attached link may be the half-open one the client just lost, which
 * the heartbeat will detach, so the client is told to come back (1013) rather than refused for
 * good; a stale token still never takes over an attached session. Anything else: `refuse`.
 */
export function tokenAccepted(token: string, record: SessionRecord, detached: boolean): 'accept' | 'retry' | 'refuse' {
  const presented = hashToken(token);
  // Both comparisons always run: timing says nothing about which token was close.
  const current = sameDigest(presented, record.tokenHash);
  const previous = sameDigest(presented, record.previousTokenHash);
  if (current || (previous && detached)) return 'accept';
  return previous ? 'retry' : 'refuse';
}

/**
 * The first frames of a connection (protocol.md, `hello`/`welcome` and "Resume"): a valid
 * `hello` first and only once, `authenticate`, then a new session or a resume, all within
 * `handshakeTimeoutMs` (one `Deadlines` timer for every pending handshake).
 */
export class Handshakes {
  private readonly deadlines: Deadlines<Connection>;
  /** `authenticate` calls in progress: aborted when their connection closes or times out. */
  private readonly authenticating = new Map<Connection, AbortController>();

  constructor(private readonly deps: HandshakeDeps) {
    this.deadlines = new Deadlines((conn) => this.timedOut(conn), { resolutionMs: 5 });
  }

  begin(conn: Connection): void {
    this.deadlines.add(conn, monotonic() + this.deps.options.handshakeTimeoutMs);
  }

  /** Connections between upgrade and `welcome` (for `maxPendingHandshakes`). */
  get pending(): number {
    return this.deadlines.size;
  }

  forget(conn: Connection): void {
    this.deadlines.delete(conn);
    this.abortAuthenticate(conn, 'the connection closed');
  }

  stop(): void {
    this.deadlines.clear();
    for (const conn of [...this.authenticating.keys()]) this.abortAuthenticate(conn, 'the server is closing');
  }

  private abortAuthenticate(conn: Connection, why: string): void {
    const controller = this.authenticating.get(conn);
    if (controller === undefined) return;
    this.authenticating.delete(conn);
    controller.abort(new Error(`authenticate() is no longer needed: ${why}`));
  }

  /**
   * Frames before `welcome`: the first must be `hello`; the rest wait for the session, and the
   * socket is not read while they do (a slow `authenticate` must not make us buffer a flood).
   * What was read before the pause took hold is bounded in frames and in bytes.
   */
  onFrames(conn: Connection, frames: Frame[], frameBytes: number): void {
    let hello: HelloFrame | undefined;
    let i = 0;
    if (!conn.helloSeen) {
      const first = frames[0] as Frame;
      if (first.t !== 'hello') {
        conn.fail(CloseCode.BadFrame, `expected hello, got ${first.t}`);
        return;
      }
      conn.helloReceived();
      hello = first;
      i = 1;
    }
    const limit = this.deps.options.maxInFlight + 64;
    const maxBytes = this.deps.options.maxInboundBytes;
    for (; i < frames.length; i++) {
      const f = frames[i] as Frame;
      if (f.t === 'hello') {
        conn.fail(CloseCode.BadFrame, 'a second hello');
        return;
      }
      conn.holdFrame(f, frameBytes);
      if (conn.heldCount > limit) {
        conn.fail(CloseCode.BadFrame, 'too many frames before welcome');
        return;
      }
      if (conn.heldBytes > maxBytes) {
        conn.fail(CloseCode.BadFrame, `more than ${maxBytes} bytes before welcome`);
        return;
      }
    }
    if (conn.heldCount > 0) conn.pauseReading(ReadPause.Held);
    // Started last, so the frames that came with hello are held before the session can open.
    if (hello !== undefined) void this.accept(conn, hello);
  }

  private timedOut(conn: Connection): void {
    // Refused during its handshake and the peer has not answered the close frame since: a last second.
    if (conn.state === 'closing') this.deps.limits.linger(conn);
    if (conn.state !== 'handshake') return;
    const ms = this.deps.options.handshakeTimeoutMs;
    this.abortAuthenticate(conn, `handshake not finished within ${ms} ms`);
    conn.fail(CloseCode.HandshakeTimeout, conn.helloSeen ? `handshake not finished within ${ms} ms` : `no hello within ${ms} ms`);
    this.deps.limits.linger(conn);
  }

  private async accept(conn: Connection, hello: HelloFrame): Promise<void> {
    // Before authenticate: peers that share no codec cannot talk, whoever they are.
    const codec = chooseCodec(hello.codecs, this.deps.options.codecs);
    if (codec === undefined) {
      const names = this.deps.options.codecs.map((c) => c.name).join(', ');
      conn.fail(CloseCode.UnsupportedVersion, `none of the codecs offered is supported (this server speaks ${names})`);
      return;
    }
    try {
      const identity = await this.authenticate(conn, hello);
      if (identity === refused || conn.state !== 'handshake') return;
      const key = this.deps.options.identityKey(identity);
      if (typeof key !== 'string') throw new TypeError(`identityKey must return a string, got ${typeof key}`);
      const identityOf = identityHash(key);
      if (this.deps.shared !== undefined) {
        await this.acceptShared(conn, hello, identity, identityOf, codec, this.deps.shared);
        return;
      }
      const resume = hello.resume;
      if (resume !== undefined) {
        const record = await this.deps.store.get(resume.sid);
        if (conn.state !== 'handshake') return;
        const live = this.deps.registry.get(resume.sid);
        // Another identity's session is, to this client, an unknown one: it gets a new session
        // and learns nothing of the other (not even that the sid exists), which stays untouched.
        // The live record is checked, not the one read: a resume may have rotated the token meanwhile.
        // A session keeps its codec for life (its cached results and queued pushes are encoded in
        // it), so a hello that no longer offers that codec gets a new session too.
        if (
          record !== undefined &&
          live !== undefined &&
          live.state !== 'closed' &&
          this.deps.registry.live(record) &&
          sameDigest(identityOf, this.deps.registry.recordOf(live).identityHash) &&
          offers(hello.codecs, live.codec)
        ) {
          const verdict = tokenAccepted(resume.token, this.deps.registry.recordOf(live), live.state === 'detached');
          if (verdict === 'refuse') {
            conn.fail(CloseCode.Forbidden, 'resume refused: the token does not match');
            return;
          }
          if (verdict === 'retry') {
            this.tryAgainLater(conn, 'session still attached to another connection, try again later');
            return;
          }
          if (this.refuseWhileClosing(conn)) return;
          this.takeOver(conn, live, hello, newToken(), { previousTokenHash: hashToken(resume.token) }, resume.seq, true);
          return;
        }
      }
      let id: string | undefined;
      if (hello.nonce !== undefined) {
        id = sessionIdFor(identityOf, hello.nonce);
        const held = this.deps.registry.get(id);
        if (held !== undefined) {
          if (held.state !== 'closed' && this.reclaimable(this.deps.registry.recordOf(held), identityOf, hello, held.codec, held.acceptedSeq, held.pushAcked)) {
            if (this.refuseWhileClosing(conn)) return;
            // The old token went out in the lost welcome only: nothing to keep acceptable.
            this.takeOver(conn, held, hello, newToken(), { previousTokenHash: null }, 0, false);
            return;
          }
          // Its client knows it: this hello is not that client's retry, and gets a session of its own.
          id = undefined;
        }
      }
      if (this.refuseWhileClosing(conn)) return;
      const perIdentity = this.deps.options.authenticate !== undefined ? identityOf : undefined;
      if (!this.deps.limits.admitSession(conn, this.deps.registry, perIdentity)) return;
      this.start(conn, hello, identity, identityOf, codec, id ?? nanoid());
    } catch (error) {
      this.deps.reportError(error);
      if (conn.state === 'handshake') conn.close(CloseCode.InternalError, 'internal error');
    }
  }

  private async authenticate(conn: Connection, hello: HelloFrame): Promise<unknown> {
    const authenticate = this.deps.options.authenticate;
    if (authenticate === undefined) return null;
    let identity: unknown;
    try {
      // The signal lets a lookup that hangs (a slow auth backend) be cancelled when nobody waits
      // for it any more: a hung call would otherwise hold what it was given for as long as it hangs.
      const controller = new AbortController();
      this.authenticating.set(conn, controller);
      try {
        // Still set: the connection lets its request go only when it opens, after this.
        identity = await authenticate(hello.auth, conn.req as IncomingMessage, { signal: controller.signal });
      } finally {
        this.authenticating.delete(conn);
      }
    } catch (error) {
      // The check could not be made (an auth backend down): the server's problem, not a refusal.
      // 4401 would be final for the client; 1013 with retryMs makes it back off and resume.
      this.deps.reportError(new Error('authenticate() threw; the client was told to retry (1013)', { cause: error }));
      if (conn.state === 'handshake') this.tryAgainLater(conn, 'authentication unavailable, try again later');
      return refused;
    }
    if (identity === false || identity === null || identity === undefined) {
      if (conn.state === 'handshake') conn.fail(CloseCode.Unauthorized, 'unauthorized');
      return refused;
    }
    return identity;
  }

  /** `bye` 1013 with `overloadRetryMs`, then close: the client backs off and tries again. */
  private tryAgainLater(conn: Connection, reason: string): void {
    conn.goodbye(CloseCode.TryAgainLater, reason, this.deps.options.overloadRetryMs);
  }

  private refuseWhileClosing(conn: Connection): boolean {
    if (!this.deps.closing()) return false;
    conn.goodbye(CloseCode.GoingAway, 'server shutting down');
    return true;
  }

  /**
   * Whether a session found under a `hello`'s nonce is the one that client's lost `welcome`
   * announced: live, of the same identity, never heard from (no client message accepted, no
   * push acknowledged: `accepted`, `pushAcked`), never resumed (a resume presents the token, so
   * the client had it), in a codec still offered. The same rule on both paths: one node reads
   * the marks from the session, a shared engine from what it stores.
   */
  private reclaimable(record: SessionRecord, identityOf: string, hello: HelloFrame, codec: Codec, accepted: number, pushAcked: number): boolean {
    return (
      accepted === 0 &&
      pushAcked === 0 &&
      this.deps.registry.live(record) &&
      sameDigest(identityOf, record.identityHash) &&
      record.previousTokenHash === null &&
      offers(hello.codecs, codec)
    );
  }

  private start(conn: Connection, hello: HelloFrame, identity: unknown, identityOf: string, codec: Codec, id: string): void {
    const token = newToken();
    const record: SessionRecord = { id, tokenHash: hashToken(token), previousTokenHash: null, identityHash: identityOf, expiresAt: null };
    const session = this.deps.newSession(id, identity, codec);
    this.deps.registry.add(session, record);
    this.open(conn, session, hello, token, false, 0);
    this.deps.onSession(session);
    conn.releaseHeld();
  }

  /**
   * A handshake on the shared engine (guarantee 10): the session is read from the engine, its
   * token checked and rotated there (compare-and-set: of two nodes resuming it at once, one
   * wins), and the node that held it is told to let go. An engine that fails refuses the
   * handshake with 1013 + `retryMs`: the client backs off and comes back.
   */
  private async acceptShared(conn: Connection, hello: HelloFrame, identity: unknown, identityOf: string, codec: Codec, shared: SharedHandshakeDeps): Promise<void> {
    const { node } = shared;
    const engine = node.engine;
    const resume = hello.resume;
    try {
      if (resume !== undefined) {
        const stored = await engine.sessions.get(resume.sid);
        if (conn.state !== 'handshake') return;
        const storedCodec = stored?.record.codec === undefined ? undefined : this.deps.options.codecs.find((c) => c.name === stored.record.codec);
        if (
          stored !== undefined &&
          storedCodec !== undefined &&
          this.deps.registry.live(stored.record) &&
          sameDigest(identityOf, stored.record.identityHash) &&
          offers(hello.codecs, storedCodec)
        ) {
          let verdict = tokenAccepted(resume.token, stored.record, stored.holder === null);
          if (verdict === 'refuse') {
            conn.fail(CloseCode.Forbidden, 'resume refused: the token does not match');
            return;
          }
          // The previous token (the welcome that rotated it was lost) is taken while the session
          // is detached. A holder node that died never detaches it: until its keys expired, the
          // client was told to try again later at every attempt (multinode chaos seed 1706: 44 s
          // of 1013s). A dead holder counts as detached, as it does for a claim's takeover: 'retry'
          // is the previous token on an attached session, which a detached one accepts.
          if (verdict === 'retry' && stored.holder !== null && !(await engine.nodes.alive(stored.holder))) {
            if (conn.state !== 'handshake') return;
            verdict = 'accept';
          }
          if (verdict === 'retry') {
            this.tryAgainLater(conn, 'session still attached to another connection, try again later');
            return;
          }
          if (this.refuseWhileClosing(conn)) return;
          const token = newToken();
          const next = { tokenHash: hashToken(token), previousTokenHash: hashToken(resume.token) };
          await this.takeShared(conn, hello, identity, stored, storedCodec, token, next, resume.seq, true, shared);
          return;
        }
      }
      let id: string | undefined;
      if (hello.nonce !== undefined) {
        id = sessionIdFor(identityOf, hello.nonce);
        const stored = await engine.sessions.get(id);
        if (conn.state !== 'handshake') return;
        if (stored !== undefined) {
          const storedCodec = this.deps.options.codecs.find((c) => c.name === stored.record.codec);
          if (storedCodec !== undefined && this.reclaimable(stored.record, identityOf, hello, storedCodec, stored.accepted, stored.pushAcked)) {
            if (this.refuseWhileClosing(conn)) return;
            const token = newToken();
            await this.takeShared(conn, hello, identity, stored, storedCodec, token, { tokenHash: hashToken(token), previousTokenHash: null }, 0, false, shared);
            return;
          }
          id = undefined;
        }
      }
      if (this.refuseWhileClosing(conn)) return;
      const perIdentity = this.deps.options.authenticate !== undefined ? identityOf : undefined;
      if (!this.deps.limits.admitSession(conn, this.deps.registry, perIdentity)) return;
      const token = newToken();
      id ??= nanoid();
      const record: SessionRecord = { id, tokenHash: hashToken(token), previousTokenHash: null, identityHash: identityOf, expiresAt: null, codec: codec.name };
      if (!(await engine.sessions.create(record, shared.limits, node.id))) throw new Error(`session id ${id} exists in the engine`);
      if (conn.state !== 'handshake') {
        engine.sessions.end(id).then(undefined, this.deps.reportError);
        return;
      }
      const session = this.deps.newSession(id, identity, codec);
      this.deps.registry.add(session, record);
      this.open(conn, session, hello, token, false, 0);
      this.deps.onSession(session);
      conn.releaseHeld();
    } catch (error) {
      // The engine did not answer (or refused): nothing was promised to the client yet.
      this.deps.reportError(new Error('the engine failed during a handshake; the client was told to retry (1013)', { cause: error }));
      if (conn.state === 'handshake') this.tryAgainLater(conn, 'session state unavailable, try again later');
    }
  }

  /**
   * The shared path's takeover of a stored session (a resume, or a reclaimed nonce): the token
   * rotated in the engine (compare-and-set: of two nodes taking it at once, one wins), the node
   * that held it told to let go, then attached here.
   */
  private async takeShared(
    conn: Connection,
    hello: HelloFrame,
    identity: unknown,
    stored: StoredSession,
    codec: Codec,
    token: string,
    next: TokenRotation,
    ackSeq: number,
    resumed: boolean,
    shared: SharedHandshakeDeps,
  ): Promise<void> {
    const { node } = shared;
    const engine = node.engine;
    const sid = stored.record.id;
    const rotated = await engine.sessions.rotate(sid, stored.record.tokenHash, next, node.id);
    if (!rotated.ok) {
      this.tryAgainLater(conn, 'session resumed by another connection at the same time, try again later');
      return;
    }
    if (rotated.previousHolder !== null) node.notify(rotated.previousHolder, sid);
    if (conn.state !== 'handshake') {
      // Won, but the client is gone: the session stays resumable.
      const expiresAt = this.deps.options.now() + this.deps.options.resumeWindowMs;
      engine.sessions.detach(sid, node.id, expiresAt).then(undefined, this.deps.reportError);
      return;
    }
    const record: SessionRecord = { ...stored.record, ...next, expiresAt: null };
    let session = this.deps.registry.get(sid);
    const arrived = session === undefined || session.state === 'closed';
    if (arrived) {
      session = this.deps.newSession(sid, identity, codec);
      this.deps.registry.add(session, record);
    }
    const here = session as SessionImpl;
    here.adoptStored(stored.accepted, stored.pushSeq);
    this.takeOver(conn, here, hello, token, record, ackSeq, resumed);
    // New to this node: the application here gets it (its sends go through the engine).
    if (arrived) this.deps.onSession(here);
  }

  /**
   * Attach `session`, taken from the connection that held it if any, with a new token: a resume
   * (`resumed`, `ackSeq` the client's delivered mark) or a session reclaimed by its nonce (new to
   * its client: `ackSeq` 0, so every push it holds goes). `rotation`: the previous token hash to
   * keep acceptable, or (shared path) the record as the engine rotated it.
   */
  private takeOver(
    conn: Connection,
    session: SessionImpl,
    hello: HelloFrame,
    token: string,
    rotation: SessionRecord | { readonly previousTokenHash: string | null },
    ackSeq: number,
    resumed: boolean,
  ): void {
    const downtimeMs = session.connected ? 0 : monotonic() - session.detachedAt;
    session.closeConnection(CloseCode.Replaced, 'replaced by a newer connection');
    // A new token on every resume: a copy of the old one stops working as soon as the client
    // presents the new one. The presented token stays acceptable while the session is detached,
    // in case this welcome never reaches the client. (On the shared path the engine rotated it.)
    if ('id' in rotation) this.deps.registry.adopt(session, rotation);
    else this.deps.registry.rotated(session, hashToken(token), rotation.previousTokenHash);
    const replayed = this.open(conn, session, hello, token, resumed, ackSeq);
    const plugins = this.deps.plugins;
    if (resumed && plugins.active) plugins.onResume({ resumed: true, replayed, downtimeMs, at: monotonic() }, session.pluginContext);
    conn.releaseHeld();
  }

  /**
   * Send `welcome` (JSON text, naming the session's codec when the client offered any) and hand
   * the connection to the session, in that codec from then on; returns the messages replayed.
   */
  private open(conn: Connection, session: SessionImpl, hello: HelloFrame, token: string, resumed: boolean, ackSeq: number): number {
    this.deadlines.delete(conn);
    const o = this.deps.options;
    const welcome = jsonCodec.welcome({
      v: PROTOCOL_VERSION,
      sid: session.id,
      token,
      resumed,
      seq: session.acceptedSeq,
      win: o.maxInFlight,
      hb: o.heartbeatIntervalMs,
      max: o.maxPayloadBytes,
      codec: hello.codecs === undefined ? undefined : session.codec.name,
      // The one-node result cache forgets on `got`; a shared engine's keeps its span.
      got: this.deps.shared === undefined ? true : undefined,
    });
    if (!conn.open(welcome, session)) return 0;
    this.deps.heartbeat.add(conn);
    return session.attach(conn, hello.win, ackSeq, resumed ? 'resumed' : 'new session');
  }
}
