import type {
  AckEvent,
  BytesEvent,
  ClockEvent,
  DeliverEvent,
  DropEvent,
  FailEvent,
  LifelinePlugin,
  PluginContext,
  ProtocolErrorEvent,
  ReceiveEvent,
  ReconnectEvent,
  ResumeEvent,
  SendEvent,
  SessionLostEvent,
  Side,
  StateEvent,
  TransmitEvent,
} from '@lifeline/protocol';
import type { Meter } from '@opentelemetry/api';
import type { JsHistogram } from 'hdr-histogram-js';
import { bump, type Counters } from './counters.js';
import { createHistogram, toMicros } from './histogram.js';
import { resolveOptions, type MetricsOptions, type ResolvedOptions } from './options.js';
import { OtelSink } from './otel.js';
import { families, formatExposition, registerFamilies, type ExportSource, type Family, type PromRegistry } from './prometheus.js';
import { ACK, DELIVERY, DOWNTIME, QUEUE, Scope, WIRE, type HistogramKind, type ScopeConfig } from './scope.js';
import { SessionTable } from './sessions.js';
import { buildSnapshot, type MetricsSnapshot, type ScopeView, type SessionSnapshot } from './snapshot.js';

export interface SnapshotOptions {
  /** One session's figures instead of the totals (`undefined` result when it is not tracked). */
  readonly sessionId?: string;
  /** Only this side's figures; both sides are added together by default. */
  readonly side?: Side;
}

/** The metrics plugin: install it with `plugins: [m]` on a client, a server, or both. */
export interface Metrics extends Required<LifelinePlugin> {
  /** Totals (both sides unless `side` is given). */
  snapshot(options?: { readonly side?: Side }): MetricsSnapshot;
  /** One session's figures, or `undefined` when the session is not (or no longer) tracked. */
  snapshot(options: SnapshotOptions): MetricsSnapshot | undefined;
  /** Every tracked session, least recently active first. */
  sessions(options?: { readonly side?: Side }): SessionSnapshot[];
  /** Forget everything recorded (histograms, counters, sessions, clock offsets). */
  reset(): void;
  /** Prometheus text exposition (format 0.0.4) of the since-start figures. */
  prometheus(): Promise<string>;
  /** Registers collectors on a prom-client `Registry`; returns a function that removes them. */
  register(registry: PromRegistry): () => void;
  /** Records to instruments created from an OpenTelemetry `Meter`; returns a function that stops. */
  otel(meter: Meter): () => void;
}

/** Creates a metrics plugin. Options are validated here (`TypeError` on a bad value). */
export function metrics(options?: MetricsOptions): Metrics {
  return new MetricsPlugin(resolveOptions(options));
}

class MetricsPlugin implements Metrics {
  readonly name = 'metrics';
  private readonly now: () => number;
  /** 0 when not windowed: then the clock is never read on the recording path. */
  private readonly slotMs: number;
  private readonly sideConfig: ScopeConfig;
  private startedAt: number;
  private client: Scope | undefined;
  private server: Scope | undefined;
  private readonly clientSessions: SessionTable | undefined;
  private readonly serverSessions: SessionTable | undefined;
  /** Replaced, never mutated, so the recording loop can iterate it safely. */
  private sinks: readonly OtelSink[] = [];
  private scratch: JsHistogram | undefined;
  private sessionScratch: JsHistogram | undefined;
  private exported: Family[] | undefined;
  /**
   * The client side's one session, while it has had only one: the usual case (one plugin per
   * client). Its figures are then the client side's, recorded once rather than twice; a second
   * client session forks a scope off for the first (a copy of the side's figures so far, which
   * include anything recorded before the first session existed). Client only: a server's totals
   * also hold what no session owns (refused handshakes, shed peers), which must not be counted
   * as its one session's.
   */
  private clientSole: string | undefined;
  private clientSoleSince = 0;
  private clientForked = false;

  constructor(private readonly options: ResolvedOptions) {
    this.now = options.now;
    this.slotMs = options.windowMs === undefined ? 0 : options.windowMs / options.windowSlots;
    this.startedAt = this.now();
    this.sideConfig = {
      digits: 3,
      slots: options.windowSlots,
      cumulative: options.windowMs !== undefined,
      clockSamples: options.clockSamples,
    };
    if (options.maxSessions > 0) {
      const sessionConfig: ScopeConfig = {
        digits: options.sessionSignificantDigits,
        slots: 1,
        cumulative: false,
        clockSamples: options.clockSamples,
      };
      this.clientSessions = new SessionTable(options.maxSessions, sessionConfig);
      this.serverSessions = new SessionTable(options.maxSessions, sessionConfig);
    }
  }

  // --- hooks: one scope lookup per side and session, no allocation -----------------------------

  // The per-message hooks update their counters in place rather than through `count(ctx, key, by)`,
  // which V8 deoptimised ("wrong name") once it had seen many keys, and look each scope up once.

  onSend(_e: SendEvent, ctx: PluginContext): void {
    this.side(ctx.side).counters.sent++;
    const session = this.session(ctx);
    if (session !== undefined) session.counters.sent++;
  }

  onTransmit(e: TransmitEvent, ctx: PluginContext): void {
    if (e.retransmit) this.count(ctx, 'retransmitted', 1);
    else this.record(ctx, QUEUE, toMicros(e.at - e.queuedAt));
  }

  /** One per message: the scopes are looked up once for its counter and both histograms. */
  onAck(e: AckEvent, ctx: PluginContext): void {
    const side = this.side(ctx.side);
    const session = this.session(ctx);
    const key = e.errorCode === undefined ? 'acked' : 'remoteErrors';
    side.counters[key]++;
    if (session !== undefined) session.counters[key]++;
    const slot = this.nowSlot();
    this.recordIn(side, session, ctx.side, ACK, toMicros(e.at - e.queuedAt), slot);
    this.recordIn(side, session, ctx.side, WIRE, toMicros(e.at - e.sentAt), slot);
  }

  onFail(e: FailEvent, ctx: PluginContext): void {
    bump(this.side(ctx.side).counters.failed, e.code, 1);
    const session = this.session(ctx);
    if (session !== undefined) bump(session.counters.failed, e.code, 1);
  }

  onReceive(e: ReceiveEvent, ctx: PluginContext): void {
    this.side(ctx.side).counters.received++;
    const session = this.session(ctx);
    if (session !== undefined) session.counters.received++;
    if (e.duplicate) this.count(ctx, 'duplicatesDropped', 1);
  }

  onDeliver(e: DeliverEvent, ctx: PluginContext): void {
    const side = this.side(ctx.side);
    const session = this.session(ctx);
    // offset = peer − local, so the sender's timestamp in our clock is sentAt − offset.
    const offset =
      session !== undefined && session.clock.hasSamples
        ? session.clock.offsetMs
        : ctx.side === 'client'
          ? side.clock.offsetMs // a client has one peer: its side-wide estimate still applies
          : 0;
    let ms = e.wallAt - e.sentAt + offset;
    side.counters.delivered++;
    if (session !== undefined) session.counters.delivered++;
    // The peer wrote sentAt: one absurd value would own the mean and the max.
    if (!(e.sentAt > 0 && Math.abs(ms) <= this.options.maxPlausibleMs)) {
      this.count(ctx, 'implausible', 1);
      return;
    }
    if (ms < 0) {
      ms = 0;
      side.counters.deliveryClamped++;
      if (session !== undefined) session.counters.deliveryClamped++;
    }
    this.recordIn(side, session, ctx.side, DELIVERY, toMicros(ms), this.nowSlot());
  }

  onState(e: StateEvent, ctx: PluginContext): void {
    bump(this.side(ctx.side).counters.states, e.to, 1);
    const session = this.session(ctx);
    if (session !== undefined) bump(session.counters.states, e.to, 1);
  }

  onReconnect(_e: ReconnectEvent, ctx: PluginContext): void {
    this.count(ctx, 'reconnects', 1);
  }

  onResume(e: ResumeEvent, ctx: PluginContext): void {
    if (e.resumed) this.count(ctx, 'resumes', 1);
    if (e.replayed > 0) this.count(ctx, 'replayed', e.replayed);
    this.record(ctx, DOWNTIME, toMicros(e.downtimeMs));
  }

  onSessionLost(e: SessionLostEvent, ctx: PluginContext): void {
    this.count(ctx, 'sessionsLost', 1);
    if (e.unknown > 0) this.count(ctx, 'unknownOutcomes', e.unknown);
  }

  onDrop(e: DropEvent, ctx: PluginContext): void {
    bump(this.side(ctx.side).counters.drops, e.reason, e.count);
    const session = this.session(ctx);
    if (session !== undefined) bump(session.counters.drops, e.reason, e.count);
  }

  onProtocolError(_e: ProtocolErrorEvent, ctx: PluginContext): void {
    this.count(ctx, 'protocolErrors', 1);
  }

  onClock(e: ClockEvent, ctx: PluginContext): void {
    // The offset comes from the peer's `pong.at`: an absurd one would skew every corrected latency.
    if (!(Math.abs(e.offsetMs) <= this.options.maxPlausibleMs)) {
      this.count(ctx, 'implausible', 1);
      return;
    }
    this.side(ctx.side).clock.update(e.rttMs, e.offsetMs);
    this.session(ctx)?.clock.update(e.rttMs, e.offsetMs);
  }

  onBytes(e: BytesEvent, ctx: PluginContext): void {
    const side = this.side(ctx.side).counters;
    const session = this.session(ctx)?.counters;
    side.bytesIn += e.in;
    side.bytesOut += e.out;
    if (session !== undefined) {
      session.bytesIn += e.in;
      session.bytesOut += e.out;
    }
  }

  // --- reading ---------------------------------------------------------------------------------

  snapshot(options?: { readonly side?: Side }): MetricsSnapshot;
  snapshot(options: SnapshotOptions): MetricsSnapshot | undefined;
  snapshot(options: SnapshotOptions = {}): MetricsSnapshot | undefined {
    const now = this.now();
    if (options.sessionId !== undefined) {
      const views: SessionView[] = [];
      for (const side of sidesOf(options.side)) {
        const view = this.sessionView(side, options.sessionId, now);
        if (view !== undefined) views.push(view);
      }
      if (views.length === 0) return undefined;
      return buildSnapshot({
        views,
        scratch: this.scratchFor(views),
        sinceMs: now - Math.min(...views.map((v) => v.since)),
        windowMs: null,
        clockOffset: views.map((v) => v.scope.clock.estimate()).find((e) => e !== null) ?? null,
      });
    }
    const views: ScopeView[] = [];
    const slot = this.slotAt(now);
    for (const side of sidesOf(options.side)) {
      const scope = side === 'client' ? this.client : this.server;
      if (scope !== undefined) views.push({ scope, slot });
    }
    let since = this.startedAt;
    if (this.slotMs > 0) {
      const windowStart = this.startedAt + (slot - (this.options.windowSlots - 1)) * this.slotMs;
      since = Math.max(since, windowStart);
    }
    return buildSnapshot({
      views,
      scratch: this.histogram(),
      sinceMs: now - since,
      windowMs: this.options.windowMs ?? null,
      // On a server each session has its own peer clock; only a client's side-wide estimate means something.
      clockOffset: options.side === 'server' ? null : (this.client?.clock.estimate() ?? null),
    });
  }

  sessions(options: { readonly side?: Side } = {}): SessionSnapshot[] {
    const now = this.now();
    const out: SessionSnapshot[] = [];
    for (const side of sidesOf(options.side)) {
      for (const view of this.sessionViews(side, now)) {
        const snap = buildSnapshot({
          views: [view],
          scratch: this.scratchFor([view]),
          sinceMs: now - view.since,
          windowMs: null,
          clockOffset: view.scope.clock.estimate(),
        });
        out.push({ ...snap, sessionId: view.id, side });
      }
    }
    return out;
  }

  reset(): void {
    this.startedAt = this.now();
    this.clientSole = undefined;
    this.clientForked = false;
    this.client?.reset(this.startedAt);
    this.server?.reset(this.startedAt);
    this.clientSessions?.clear();
    this.serverSessions?.clear();
  }

  async prometheus(): Promise<string> {
    return formatExposition(this.families());
  }

  register(registry: PromRegistry): () => void {
    return registerFamilies(registry, this.families());
  }

  otel(meter: Meter): () => void {
    const sink = new OtelSink(
      meter,
      () => this.sideScopes().map(([side, scope]) => [side, scope.counters] as const),
      this.options,
    );
    this.sinks = [...this.sinks, sink];
    return () => {
      if (!this.sinks.includes(sink)) return;
      this.sinks = this.sinks.filter((s) => s !== sink);
      sink.stop();
    };
  }

  // --- internals -------------------------------------------------------------------------------

  private side(side: Side): Scope {
    if (side === 'client') return (this.client ??= new Scope(this.sideConfig, this.startedAt));
    return (this.server ??= new Scope(this.sideConfig, this.startedAt));
  }

  private table(side: Side): SessionTable | undefined {
    return side === 'client' ? this.clientSessions : this.serverSessions;
  }

  /** The scope of the event's session, if it has one of its own (see `clientSole`). */
  private session(ctx: PluginContext): Scope | undefined {
    const id = ctx.sessionId;
    if (id === undefined) return undefined;
    const table = this.table(ctx.side);
    if (table === undefined) return undefined;
    if (ctx.side === 'client' && !this.clientForked) {
      if (this.clientSole === undefined) {
        this.clientSole = id;
        this.clientSoleSince = this.now();
        return undefined;
      }
      if (id === this.clientSole) return undefined;
      this.forkClient(table, this.clientSole);
    }
    return table.touch(id, this.now);
  }

  private forkClient(table: SessionTable, sole: string): void {
    this.clientForked = true;
    const now = this.now();
    const scope = table.touch(sole, () => now);
    scope.absorb(this.side('client'), this.slotAt(now));
    scope.startedAt = this.clientSoleSince;
  }

  /** One session's scope on one side, as a snapshot reads it. */
  private sessionView(side: Side, id: string, now: number): SessionView | undefined {
    if (side === 'client' && !this.clientForked) {
      if (id !== this.clientSole) return undefined;
      return { id, scope: this.side('client'), slot: this.slotAt(now), since: this.clientSoleSince };
    }
    const scope = this.table(side)?.get(id);
    return scope === undefined ? undefined : { id, scope, slot: 0, since: scope.startedAt };
  }

  /** Every tracked session of one side, least recently active first. */
  private sessionViews(side: Side, now: number): SessionView[] {
    if (side === 'client' && !this.clientForked) {
      const view = this.clientSole === undefined ? undefined : this.sessionView(side, this.clientSole, now);
      return view === undefined ? [] : [view];
    }
    const table = this.table(side);
    if (table === undefined) return [];
    return [...table.values()].map((scope) => ({ id: scope.id, scope, slot: 0, since: scope.startedAt }));
  }

  private slotAt(now: number): number {
    return this.slotMs === 0 ? 0 : Math.floor((now - this.startedAt) / this.slotMs);
  }

  /** The current slot, without a clock read when the plugin is not windowed. */
  private nowSlot(): number {
    return this.slotMs === 0 ? 0 : this.slotAt(this.now());
  }

  private count(ctx: PluginContext, key: ScalarCounter, by: number): void {
    this.side(ctx.side).counters[key] += by;
    const session = this.session(ctx);
    if (session !== undefined) session.counters[key] += by;
  }

  /**
   * Records integer microseconds (`-1`: refused). Converting before the call matters: a
   * fractional double passed to a function that is not inlined is boxed, one allocation each.
   */
  private record(ctx: PluginContext, kind: HistogramKind, us: number): void {
    this.recordIn(this.side(ctx.side), this.session(ctx), ctx.side, kind, us, this.nowSlot());
  }

  private recordIn(side: Scope, session: Scope | undefined, sideName: Side, kind: HistogramKind, us: number, slot: number): void {
    if (us < 0) return;
    (side.hist[kind] as Scope['hist'][number]).record(us, slot);
    if (session !== undefined) (session.hist[kind] as Scope['hist'][number]).record(us, 0);
    const sinks = this.sinks;
    for (let i = 0; i < sinks.length; i++) (sinks[i] as OtelSink).record(kind, us, sideName);
  }

  private sideScopes(): Array<readonly [Side, Scope]> {
    const out: Array<readonly [Side, Scope]> = [];
    if (this.client !== undefined) out.push(['client', this.client]);
    if (this.server !== undefined) out.push(['server', this.server]);
    return out;
  }

  private histogram(): JsHistogram {
    return (this.scratch ??= createHistogram(3));
  }

  /** A client's sole session is read from its side scope, at the side's precision. */
  private scratchFor(views: readonly SessionView[]): JsHistogram {
    // The client's sole session is read from the side's scope, at the side's precision.
    return views.some((v) => v.scope === this.client) ? this.histogram() : this.sessionHistogram();
  }

  private sessionHistogram(): JsHistogram {
    return (this.sessionScratch ??= createHistogram(this.options.sessionSignificantDigits));
  }

  private families(): Family[] {
    if (this.exported !== undefined) return this.exported;
    const source: ExportSource = {
      sides: () => this.sideScopes(),
      slot: () => this.slotAt(this.now()),
      scratch: this.histogram(),
      latencyBucketsMs: this.options.latencyBucketsMs,
      downtimeBucketsMs: this.options.downtimeBucketsMs,
    };
    return (this.exported = families(source));
  }
}

interface SessionView extends ScopeView {
  readonly id: string;
  /** When the session was first seen (the `now` clock). */
  readonly since: number;
}

type ScalarCounter = {
  [K in keyof Counters]: Counters[K] extends number ? K : never;
}[keyof Counters];

const bothSides: readonly Side[] = ['client', 'server'];
const sidesOf = (side: Side | undefined): readonly Side[] => (side === undefined ? bothSides : [side]);
