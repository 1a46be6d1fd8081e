import { FaultProxy } from '@lifeline/fault-proxy';
import { createClient, type Json, type LifelineClient, type LifelinePlugin, type Subscription } from '@lifeline/sdk';
import { createServer, type HandlerContext, type LifelineServer, type Session } from '@lifeline/server';
import { describeError } from './describe-error.js';
import { grown, listeners, type Counts } from './handles.js';
import type { ChannelLedger, Ledger, PublicationRecord, PushRecord, SendRecord } from './ledger.js';
import { Rng } from './prng.js';
import { behaviourOf, idOf, resultOf, type Action, type Plan, type SendSpec } from './schedule.js';

/** A send's deadline when the schedule gives none: far past the run's hard deadline. */
export const LONG_DEADLINE_MS = 60_000;

/** The channel every run publishes to (on each push step) and the client subscribes to. */
export const CHAOS_CHANNEL = 'chaos:feed';
/** Large enough that only a restart (a new epoch) can make a gap. */
const CHANNEL_HISTORY = 100_000;

/** One server lifetime: a restart starts the next generation with an empty in-memory store. */
export interface Generation {
  readonly gen: number;
  readonly server: LifelineServer;
  readonly sessions: Session[];
  /** Pushes numbered so far (k of the last one). */
  pushes: number;
  /** Publications numbered so far. */
  publications: number;
  closed: boolean;
  listenersAtStart?: Counts;
}

type Spell = Extract<Action, { kind: 'half-open' | 'fragment' | 'delay' }>;

/**
 * The system under test for one chaos run: servers (one per generation) behind a fault proxy,
 * one SDK client, and the ledger every observation goes to. Every timer it starts is tracked so
 * `abort()` can stop a run that passed its deadline.
 */
export class World {
  readonly gens: Generation[] = [];
  proxy!: FaultProxy;
  client!: LifelineClient;
  sub!: Subscription;
  progress = 0;
  /** Index of the step being run, for deadline reports. */
  step = -1;
  aborted = false;
  private nextSend = 0;
  private readonly sendsDone: Array<Promise<void>> = [];
  private readonly pushesDone: Array<Promise<void>> = [];
  private readonly publishesDone: Array<Promise<void>> = [];
  private readonly waiters = new Set<() => void>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private readonly rng: Rng;
  private clientListeners: Counts = {};
  private transportListeners: Counts = {};
  private proxyListeners: Counts = {};

  constructor(
    readonly plan: Plan,
    readonly ledger: Ledger,
    readonly channel: ChannelLedger,
  ) {
    this.rng = new Rng(plan.seed).fork('world');
  }

  get current(): Generation {
    return this.gens[this.gens.length - 1] as Generation;
  }

  async start(): Promise<void> {
    const first = await this.startGeneration();
    this.proxy = await FaultProxy.start({ target: { port: first.server.port }, random: this.rng.fork('proxy').next });
    const c = this.plan.client;
    // What the client itself says is on the wire without an outcome (public plugin hooks): at a
    // 'session-lost', exactly these ids must be reported.
    const onWire = new Set<string>();
    const witness: LifelinePlugin = {
      name: 'chaos-witness',
      onTransmit: (e) => onWire.add(e.id),
      onAck: (e) => onWire.delete(e.id),
      onFail: (e) => onWire.delete(e.id),
    };
    const client = createClient({
      plugins: [witness],
      url: this.proxy.url(),
      reconnect: { minDelayMs: 5, maxDelayMs: 50 },
      heartbeatIntervalMs: c.heartbeatIntervalMs,
      heartbeatTimeoutMs: c.heartbeatTimeoutMs,
      connectTimeoutMs: c.connectTimeoutMs,
      ackTimeoutMs: LONG_DEADLINE_MS,
      maxInFlight: c.maxInFlight,
      maxQueued: c.maxQueued,
      maxBuffered: c.maxBuffered,
      random: this.rng.fork('jitter').next,
    });
    this.client = client;
    const ledger = this.ledger;
    client.on('message', (data) => {
      const { g, k } = data as { g: number; k: number };
      ledger.delivered.push({ g, k });
      this.bump();
    });
    client.on('session-lost', ({ ids, unknown }) => {
      const pending = ids.filter((id) => ledger.sends.get(id)?.outcome === undefined).length;
      const strangers = ids.filter((id) => !ledger.sends.has(id)).length;
      ledger.lost.push({ ids: [...ids], unknown, pending, strangers, onWire: [...onWire] });
    });
    client.on('resumed', () => ledger.resumed++);
    client.on('disconnect', ({ code }) => {
      ledger.disconnects[code] = (ledger.disconnects[code] ?? 0) + 1;
    });
    client.on('error', (e) => ledger.unexpected.push(`client 'error': ${describeError(e)}`));
    client.on('protocol-error', (e) => ledger.unexpected.push(`client 'protocol-error': ${describeError(e)}`));
    await client.connect({ timeoutMs: 5_000 });
    const sub = client.subscribe(CHAOS_CHANNEL);
    this.sub = sub;
    sub.on('publication', (data, meta) => {
      const { g, k } = data as { g: number; k: number };
      this.channel.observed.push({ kind: 'pub', offset: meta.offset, epoch: meta.epoch, g, k });
      this.bump();
    });
    sub.on('gap', (gap) => {
      // The position has moved to the gap's end, in the epoch the subscription goes on in.
      this.channel.observed.push({ kind: 'gap', from: gap.from, to: gap.to, epoch: sub.position?.epoch ?? '?', reason: gap.reason });
    });
    sub.on('error', (e) => ledger.unexpected.push(`subscription 'error': ${describeError(e)}`));
    await sub.ready({ timeoutMs: 5_000 });
    this.channel.start = sub.position;
    this.clientListeners = listeners(client);
    this.transportListeners = listeners(this.transport);
    this.proxyListeners = listeners(this.proxy);
  }

  /** The client's transport: not public, but its listeners must not grow with reconnects. */
  private get transport(): unknown {
    return (this.client as unknown as { transport: unknown }).transport;
  }

  // ---- progress: settled sends and delivered pushes -------------------------------------

  private bump(): void {
    this.progress++;
    for (const wake of [...this.waiters]) wake();
  }

  /** Resolve once progress reaches `target` or `maxMs` passed (a short timer), whichever is first. */
  waitProgress(target: number, maxMs: number): Promise<void> {
    if (this.progress >= target || this.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.waiters.delete(check);
        this.clear(timer);
        resolve();
      };
      const check = () => {
        if (this.progress >= target || this.aborted) done();
      };
      const timer = this.after(maxMs, done);
      this.waiters.add(check);
    });
  }

  private after(ms: number, fn: () => void): ReturnType<typeof setTimeout> {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
    return timer;
  }

  private clear(timer: ReturnType<typeof setTimeout>): void {
    clearTimeout(timer);
    this.timers.delete(timer);
  }

  // ---- servers ----------------------------------------------------------------------------

  private async startGeneration(): Promise<Generation> {
    const s = this.plan.server;
    const ledger = this.ledger;
    const gen: Generation = {
      gen: this.gens.length,
      server: undefined as unknown as LifelineServer,
      sessions: [],
      pushes: 0,
      publications: 0,
      closed: false,
    };
    const server = createServer({
      port: 0,
      host: '127.0.0.1',
      heartbeatIntervalMs: s.heartbeatIntervalMs,
      heartbeatTimeoutMs: s.heartbeatTimeoutMs,
      maxInFlight: s.maxInFlight,
      handshakeTimeoutMs: 2_000,
      channels: { historySize: CHANNEL_HISTORY },
      handler: (data, ctx) => this.handle(gen, data, ctx),
    });
    (gen as { server: LifelineServer }).server = server;
    server.on('session', (session) => {
      gen.sessions.push(session);
    });
    server.on('error', (e) => ledger.unexpected.push(`server g${gen.gen} 'error': ${describeError(e)}`));
    server.on('protocol-error', (e) => ledger.unexpected.push(`server g${gen.gen} 'protocol-error': ${e.code} ${e.reason}`));
    await server.listen();
    gen.listenersAtStart = listeners(server);
    this.gens.push(gen);
    return gen;
  }

  /** The application handler: logs the call, then behaves as the id says (behaviourOf). */
  private handle(gen: Generation, data: Json, ctx: HandlerContext): unknown {
    const record = this.ledger.sends.get(ctx.id);
    this.ledger.handled.push({ gen: gen.gen, sid: ctx.session.id, id: ctx.id, seq: ctx.seq, index: record?.index ?? -1 });
    const b = behaviourOf(ctx.id);
    if (b.pushes) this.pushOn(gen, ctx.session);
    const n = (data as { n: number }).n;
    const outcome = () => {
      if (b.throws) throw Object.assign(new Error(`chaos: ${ctx.id} throws on g${gen.gen}`), { code: 'E_CHAOS' });
      return resultOf(n, gen.gen);
    };
    switch (b.mode) {
      case 'sync':
        return outcome();
      case 'microtask':
        return Promise.resolve().then(outcome);
      case 'immediate':
        return new Promise((resolve) => setImmediate(resolve)).then(outcome);
      case 'timer':
        return new Promise((resolve) => setTimeout(resolve, b.delayMs)).then(outcome);
    }
  }

  // ---- work ---------------------------------------------------------------------------------

  /** The next `count` sends in send order, all in this turn. */
  sendBurst(count: number): void {
    for (let j = 0; j < count && this.nextSend < this.plan.sends.length; j++) this.sendOne(this.plan.sends[this.nextSend]!);
  }

  private sendOne(spec: SendSpec): void {
    const index = this.nextSend++;
    const id = idOf(this.plan.seed, index);
    const record: SendRecord = { index, id, timeoutMs: spec.timeoutMs, behaviour: behaviourOf(id), outcome: undefined };
    this.ledger.sends.set(id, record);
    const data = { n: index, pad: 'x'.repeat(spec.pad) };
    this.sendsDone.push(
      this.client.send(data, { id, timeoutMs: spec.timeoutMs ?? LONG_DEADLINE_MS }).then(
        (value) => {
          record.outcome = { kind: 'resolved', value };
          this.bump();
        },
        (error: unknown) => {
          record.outcome = { kind: 'rejected', error };
          this.bump();
        },
      ),
    );
  }

  /** `count` pushes on the current generation's open session (skipped when there is none yet), and as many publications. */
  pushBurst(count: number): void {
    const gen = this.current;
    for (let j = 0; j < count && !gen.closed; j++) this.publishOn(gen);
    const session = gen.sessions[gen.sessions.length - 1];
    for (let j = 0; j < count; j++) {
      if (session === undefined || session.state === 'closed' || gen.closed) this.ledger.pushesSkipped++;
      else this.pushOn(gen, session);
    }
  }

  private pushOn(gen: Generation, session: Session): void {
    const record: PushRecord = { gen: gen.gen, k: ++gen.pushes, outcome: undefined };
    this.ledger.pushes.push(record);
    this.pushesDone.push(
      session.send({ g: gen.gen, k: record.k }, { timeoutMs: LONG_DEADLINE_MS }).then(
        () => {
          record.outcome = { kind: 'resolved' };
        },
        (error: unknown) => {
          record.outcome = { kind: 'rejected', error };
        },
      ),
    );
  }

  private publishOn(gen: Generation): void {
    const record: PublicationRecord = { gen: gen.gen, k: ++gen.publications };
    this.channel.publications.push(record);
    this.publishesDone.push(
      gen.server.publish(CHAOS_CHANNEL, { g: gen.gen, k: record.k }).then(
        ({ offset, epoch }) => {
          record.offset = offset;
          record.epoch = epoch;
        },
        (error: unknown) => {
          record.failed = error;
        },
      ),
    );
  }

  /** Every publication of the current server has reached the subscriber (or `maxMs` passed). */
  private channelCaughtUp(maxMs: number): Promise<void> {
    const gen = this.current.gen;
    const last = this.channel.publications.filter((p) => p.gen === gen && p.offset !== undefined);
    const target = last.reduce((m, p) => Math.max(m, p.offset as number), 0);
    const epoch = last[0]?.epoch;
    const done = () => {
      const pos = this.sub.position;
      return target === 0 || (pos !== undefined && pos.epoch === epoch && pos.offset >= target);
    };
    if (done() || this.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (!done() && !this.aborted) return;
        this.waiters.delete(check);
        this.clear(timer);
        resolve();
      };
      const timer = this.after(maxMs, () => {
        this.waiters.delete(check);
        resolve();
      });
      this.waiters.add(check);
    });
  }

  // ---- faults -------------------------------------------------------------------------------

  cut(): void {
    this.ledger.faults.cut++;
    this.ledger.connectionsCut += this.proxy.cutAll();
  }

  /** Start a spell; resolves when it has ended (healed). */
  spell(action: Spell): Promise<void> {
    const proxy = this.proxy;
    this.ledger.faults[action.kind]++;
    let end: () => void;
    switch (action.kind) {
      case 'half-open':
        proxy.silence();
        end = () => {
          proxy.heal();
          // The silent spell broke the byte streams of every connection it touched.
          this.ledger.connectionsCut += proxy.cutAll();
        };
        break;
      case 'fragment':
        proxy.fragment(1);
        end = () => proxy.fragment(0);
        break;
      case 'delay':
        proxy.delay(action.delayMs, action.jitterMs);
        end = () => proxy.delay(0, 0);
        break;
    }
    return new Promise((resolve) => {
      this.after(action.spellMs, () => {
        end();
        resolve();
      });
    });
  }

  /**
   * Restart: a new server (empty store) takes the proxy's target, every connection is cut, the
   * old server closes within `graceMs`. Resolves once the client reported `session-lost`.
   */
  async restart(graceMs: number): Promise<void> {
    this.ledger.faults.restart++;
    const old = this.current;
    const next = await this.startGeneration();
    const lost = this.nextClientEvent('session-lost', 5_000);
    lost.catch(() => {}); // awaited below; not unhandled meanwhile
    this.proxy.setTarget({ port: next.server.port });
    this.ledger.connectionsCut += this.proxy.cutAll();
    await old.server.close({ timeoutMs: graceMs, retryMs: 0 });
    old.closed = true;
    await lost;
  }

  private nextClientEvent(event: 'session-lost', timeoutMs: number): Promise<void> {
    const client = this.client;
    return new Promise((resolve, reject) => {
      const onEvent = () => {
        this.clear(timer);
        resolve();
      };
      const timer = this.after(timeoutMs, () => {
        client.off(event, onEvent);
        reject(new Error(`no '${event}' within ${timeoutMs} ms of the restart (client state ${client.state})`));
      });
      client.once(event, onEvent);
    });
  }

  // ---- the end of a run ---------------------------------------------------------------------

  /** Every send settled, every push settled (the current generation's by the client's acks). */
  async settle(): Promise<void> {
    this.proxy.heal();
    await Promise.all(this.sendsDone);
    // A last message after every fault: its ack comes back on the connection the client will
    // close, so both sides have seen the last cut (a client that closes on a link it does not
    // yet know is dead cannot end its session at the server; that session stays resumable).
    this.sendOne({ pad: 0, timeoutMs: undefined });
    await Promise.all(this.sendsDone);
    // Handlers that push run before their ack, so every push exists by now.
    await Promise.all(this.pushesDone);
    await Promise.all(this.publishesDone);
    await this.channelCaughtUp(10_000);
  }

  /** Buffers empty and listener counts back where they started (checked before closing). */
  quiescent(): string[] {
    const problems: string[] = [];
    const c = this.client;
    if (c.pending !== 0) problems.push(`client.pending is ${c.pending} after every send settled`);
    if (c.buffered !== 0) problems.push(`client.buffered is ${c.buffered} with a 'message' listener`);
    if (!this.sub.active) problems.push('the chaos subscription ended');
    if (this.sub.buffered !== 0) problems.push(`the chaos subscription holds ${this.sub.buffered} with a 'publication' listener`);
    const leaks = [
      ...grown(this.clientListeners, listeners(c)).map((l) => `client ${l}`),
      ...grown(this.transportListeners, listeners(this.transport)).map((l) => `client transport ${l}`),
      ...grown(this.proxyListeners, listeners(this.proxy)).map((l) => `proxy ${l}`),
    ];
    for (const g of this.gens) {
      leaks.push(...grown(g.listenersAtStart ?? {}, listeners(g.server)).map((l) => `server g${g.gen} ${l}`));
      // We add no session listener (until close()), so any there was left by the library.
      for (const s of g.sessions) leaks.push(...grown({}, listeners(s)).map((l) => `session ${s.id} ${l}`));
    }
    problems.push(...leaks.map((l) => `listener leak: ${l}`));
    const live = this.current.server.sessions.size;
    if (live > 1) problems.push(`server g${this.current.gen} holds ${live} sessions for one client`);
    return problems;
  }

  /**
   * Close everything: the client (bye 1000, which ends its session on the server), then the
   * servers and the proxy. Returns what did not go back to zero.
   */
  async close(): Promise<string[]> {
    const problems: string[] = [];
    const current = this.gens.length > 0 ? this.current : undefined;
    if (this.client !== undefined) {
      const ended = current === undefined || current.closed ? Promise.resolve(true) : this.sessionsEnded(current, 2_000);
      const state = this.client.state;
      const detaches: string[] = [];
      for (const s of current?.sessions ?? []) s.on('detach', ({ code, reason }) => detaches.push(`${code} ${reason}`));
      await this.client.close({ timeoutMs: 1_000 }).catch(() => {});
      if (!(await ended) && !this.aborted) {
        const states = current!.sessions.map((s) => `${s.id}:${s.state}`).join(', ');
        problems.push(
          `server g${current!.gen} still holds ${current!.server.sessions.size} session(s) [${states}] 2 s after the client closed (client was ${state}; detached with ${detaches.join('; ') || 'nothing'})`,
        );
      }
    }
    for (const g of this.gens) {
      if (!g.closed) await g.server.close({ timeoutMs: 500 });
      g.closed = true;
    }
    if (this.proxy !== undefined) {
      await this.proxy.close();
      if (this.proxy.connections !== 0) problems.push(`proxy still has ${this.proxy.connections} connections after close`);
    }
    return problems;
  }

  /** Resolves true once the generation holds no session (event-driven), false after `timeoutMs`. */
  private sessionsEnded(gen: Generation, timeoutMs: number): Promise<boolean> {
    const open = () => gen.server.sessions.size;
    if (open() === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const pending = gen.sessions.filter((s) => s.state !== 'closed');
      const check = () => {
        if (open() > 0) return;
        cleanup();
        resolve(true);
      };
      const timer = setTimeout(() => {
        cleanup();
        resolve(open() === 0);
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        for (const s of pending) s.off('close', check);
      };
      for (const s of pending) s.on('close', check);
    });
  }

  /** Stop a run that passed its deadline: no more steps, every pending wait of ours released. */
  abort(): void {
    this.aborted = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const wake of [...this.waiters]) wake();
    this.proxy?.heal();
  }

  /** A one-line state dump for a deadline report. */
  snapshot(): string {
    const c = this.client;
    const unsettled = [...this.ledger.sends.values()].filter((r) => r.outcome === undefined).map((r) => r.id);
    const pushes = this.ledger.pushes.filter((p) => p.outcome === undefined).map((p) => `g${p.gen}/${p.k}`);
    return (
      `client state=${c?.state} pending=${c?.pending} buffered=${c?.buffered} progress=${this.progress} ` +
      `unsettled sends=${unsettled.length} [${unsettled.slice(0, 10).join(', ')}] ` +
      `unsettled pushes=${pushes.length} [${pushes.slice(0, 10).join(', ')}] proxy connections=${this.proxy?.connections}`
    );
  }
}
