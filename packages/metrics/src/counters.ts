import type { DropEvent, ErrorCode } from '@lifeline/protocol';

/**
 * Event counters, cumulative since the plugin was created or `reset()` (never windowed, so they
 * can be differenced into rates and exported as Prometheus/OpenTelemetry counters).
 */

/** The counters as they appear in a snapshot. */
export interface CounterValues {
  /** `send()` calls accepted into the queue. */
  readonly sent: number;
  /** Acks without an error. */
  readonly acked: number;
  /** Acks carrying an error from the remote handler. */
  readonly remoteErrors: number;
  /** `send()` calls that settled without an ack, by error code. */
  readonly failed: Readonly<Partial<Record<ErrorCode, number>>>;
  /** Messages written to the socket again (after a reconnect). */
  readonly retransmitted: number;
  /** Messages that arrived from the peer, duplicates included. */
  readonly received: number;
  /** Arrivals dropped as duplicates (already delivered). */
  readonly duplicatesDropped: number;
  /** Messages handed to the application. */
  readonly delivered: number;
  /** Reconnect attempts scheduled. */
  readonly reconnects: number;
  /** Handshakes after a loss that resumed the session. */
  readonly resumes: number;
  /** Messages retransmitted or replayed because of a resume. */
  readonly replayed: number;
  /** Sessions the peer no longer knew (resume window passed, server restarted). */
  readonly sessionsLost: number;
  /** Messages whose outcome was unknown when their session was lost. */
  readonly unknownOutcomes: number;
  /** Messages refused or shed, by reason. */
  readonly drops: Readonly<Partial<Record<DropEvent['reason'], number>>>;
  /** Connections closed for breaking the protocol. */
  readonly protocolErrors: number;
  /** Text read from the socket, in UTF-16 code units (bytes for ASCII). */
  readonly bytesIn: number;
  /** Text written to the socket, in UTF-16 code units (bytes for ASCII). */
  readonly bytesOut: number;
  /** State transitions (a client's connection, a server's sessions), by the state entered. */
  readonly states: Readonly<Record<string, number>>;
  /** Delivery latencies that came out negative after the clock correction and were clamped to 0. */
  readonly deliveryClamped: number;
  /**
   * Peer timestamps not recorded because no real clock gives them: a delivery latency beyond
   * ± `maxPlausibleMs` or a `msg.ts` ≤ 0, and heartbeat clock offsets beyond `maxPlausibleMs`.
   */
  readonly implausible: number;
}

type Scalar = { [K in keyof CounterValues]: CounterValues[K] extends number ? K : never }[keyof CounterValues];
type Keyed = Exclude<keyof CounterValues, Scalar>;

/** Mutable counters; fields are plain numbers so an increment is one property store. */
export class Counters {
  sent = 0;
  acked = 0;
  remoteErrors = 0;
  retransmitted = 0;
  received = 0;
  duplicatesDropped = 0;
  delivered = 0;
  reconnects = 0;
  resumes = 0;
  replayed = 0;
  sessionsLost = 0;
  unknownOutcomes = 0;
  protocolErrors = 0;
  bytesIn = 0;
  bytesOut = 0;
  deliveryClamped = 0;
  implausible = 0;
  // Keys come from small closed sets (error codes, drop reasons, states): a Map never grows far.
  readonly failed = new Map<string, number>();
  readonly drops = new Map<string, number>();
  readonly states = new Map<string, number>();

  reset(): void {
    for (const key of scalarKeys) this[key] = 0;
    this.failed.clear();
    this.drops.clear();
    this.states.clear();
  }

  /** Adds `other` into this (to total the client and server sides). */
  add(other: Counters): void {
    for (const key of scalarKeys) this[key] += other[key];
    for (const key of keyedKeys) {
      for (const [k, v] of other[key]) bump(this[key], k, v);
    }
  }

  toJSON(): CounterValues {
    const out: Record<string, unknown> = {};
    for (const key of scalarKeys) out[key] = this[key];
    for (const key of keyedKeys) out[key] = Object.fromEntries(this[key]);
    return out as unknown as CounterValues;
  }
}

export function bump(map: Map<string, number>, key: string, by: number): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

const scalarKeys = [
  'sent',
  'acked',
  'remoteErrors',
  'retransmitted',
  'received',
  'duplicatesDropped',
  'delivered',
  'reconnects',
  'resumes',
  'replayed',
  'sessionsLost',
  'unknownOutcomes',
  'protocolErrors',
  'bytesIn',
  'bytesOut',
  'deliveryClamped',
  'implausible',
] as const satisfies readonly Scalar[];
const keyedKeys = ['failed', 'drops', 'states'] as const satisfies readonly Keyed[];

/** How each counter is exported: Prometheus name (with `_total`), OpenTelemetry name, help. */
export interface CounterDef {
  readonly key: Scalar | Keyed;
  readonly prom: string;
  readonly otel: string;
  readonly unit: string;
  readonly help: string;
  /** For keyed counters: the label (Prometheus) / attribute (OpenTelemetry) holding the key. */
  readonly label?: string;
}

export const counterDefs: readonly CounterDef[] = [
  { key: 'sent', prom: 'lifeline_messages_sent_total', otel: 'lifeline.messages.sent', unit: '{message}', help: 'Messages accepted by send().' },
  { key: 'acked', prom: 'lifeline_messages_acked_total', otel: 'lifeline.messages.acked', unit: '{message}', help: 'Messages acknowledged by the peer without an error.' },
  { key: 'remoteErrors', prom: 'lifeline_remote_errors_total', otel: 'lifeline.remote_errors', unit: '{message}', help: "Acks carrying an error from the peer's handler." },
  { key: 'failed', prom: 'lifeline_messages_failed_total', otel: 'lifeline.messages.failed', unit: '{message}', help: 'send() calls that settled without an ack, by error code.', label: 'code' },
  { key: 'retransmitted', prom: 'lifeline_retransmits_total', otel: 'lifeline.retransmits', unit: '{message}', help: 'Messages written to the socket again after a reconnect.' },
  { key: 'received', prom: 'lifeline_messages_received_total', otel: 'lifeline.messages.received', unit: '{message}', help: 'Messages that arrived from the peer, duplicates included.' },
  { key: 'duplicatesDropped', prom: 'lifeline_duplicates_dropped_total', otel: 'lifeline.duplicates_dropped', unit: '{message}', help: 'Arrivals dropped as duplicates of delivered messages.' },
  { key: 'delivered', prom: 'lifeline_messages_delivered_total', otel: 'lifeline.messages.delivered', unit: '{message}', help: 'Messages handed to the application.' },
  { key: 'reconnects', prom: 'lifeline_reconnect_attempts_total', otel: 'lifeline.reconnect_attempts', unit: '{attempt}', help: 'Reconnect attempts scheduled.' },
  { key: 'resumes', prom: 'lifeline_resumes_total', otel: 'lifeline.resumes', unit: '{resume}', help: 'Handshakes after a loss that resumed the session.' },
  { key: 'replayed', prom: 'lifeline_replayed_total', otel: 'lifeline.replayed', unit: '{message}', help: 'Messages retransmitted or replayed because of a resume.' },
  { key: 'sessionsLost', prom: 'lifeline_sessions_lost_total', otel: 'lifeline.sessions_lost', unit: '{session}', help: 'Sessions the peer no longer knew when the client came back.' },
  { key: 'unknownOutcomes', prom: 'lifeline_unknown_outcomes_total', otel: 'lifeline.unknown_outcomes', unit: '{message}', help: 'Messages whose outcome was unknown when their session was lost.' },
  { key: 'drops', prom: 'lifeline_drops_total', otel: 'lifeline.drops', unit: '{message}', help: 'Messages refused or shed for lack of room, by reason.', label: 'reason' },
  { key: 'protocolErrors', prom: 'lifeline_protocol_errors_total', otel: 'lifeline.protocol_errors', unit: '{error}', help: 'Connections closed for breaking the protocol.' },
  { key: 'bytesIn', prom: 'lifeline_bytes_received_total', otel: 'lifeline.bytes.received', unit: 'By', help: 'Text read from the socket (UTF-16 code units; bytes for ASCII).' },
  { key: 'bytesOut', prom: 'lifeline_bytes_sent_total', otel: 'lifeline.bytes.sent', unit: 'By', help: 'Text written to the socket (UTF-16 code units; bytes for ASCII).' },
  { key: 'states', prom: 'lifeline_state_transitions_total', otel: 'lifeline.state_transitions', unit: '{transition}', help: 'State transitions (a client\'s connection, a server\'s sessions), by the state entered.', label: 'to' },
  { key: 'deliveryClamped', prom: 'lifeline_delivery_clamped_total', otel: 'lifeline.delivery_clamped', unit: '{message}', help: 'Delivery latencies negative after clock correction, clamped to 0.' },
  { key: 'implausible', prom: 'lifeline_implausible_timestamps_total', otel: 'lifeline.implausible_timestamps', unit: '{sample}', help: 'Peer timestamps (msg.ts, heartbeat clock offsets) too far off to record.' },
];
