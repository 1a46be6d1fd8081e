import type { Behaviour, FaultKind } from './schedule.js';

/** Everything a chaos run observed, written as it happens and checked after the run (invariants.ts). */

export type SendOutcome = { readonly kind: 'resolved'; readonly value: unknown } | { readonly kind: 'rejected'; readonly error: unknown };

export type PushOutcome = { readonly kind: 'resolved' } | { readonly kind: 'rejected'; readonly error: unknown };

/** One `client.send()`. */
export interface SendRecord {
  /** Position in send order. */
  readonly index: number;
  readonly id: string;
  /** A short deadline given to this send, if any. */
  readonly timeoutMs: number | undefined;
  readonly behaviour: Behaviour;
  outcome: SendOutcome | undefined;
}

/** One handler invocation on a server. */
export interface Handling {
  /** Server generation (0 is the first server; each restart adds one). */
  readonly gen: number;
  readonly sid: string;
  readonly id: string;
  readonly seq: number;
  /** Send index of the id, -1 for an id the client never sent. */
  readonly index: number;
}

/** One `session.send()` (a server push), numbered `k` from 1 per generation. */
export interface PushRecord {
  readonly gen: number;
  readonly k: number;
  outcome: PushOutcome | undefined;
}

/** One client `'message'` event. */
export interface Delivery {
  readonly g: number;
  readonly k: number;
}

/** One client `'session-lost'` event. */
export interface LostReport {
  readonly ids: readonly string[];
  readonly unknown: number;
  /** Reported ids whose `send()` had not settled at the time of the report (it should be all). */
  readonly pending: number;
  /** Reported ids the client never sent (it should be none). */
  readonly strangers: number;
  /** Ids the client's plugin hooks showed transmitted without an outcome at that moment (it should be `ids`). */
  readonly onWire: readonly string[];
}

export class Ledger {
  readonly sends = new Map<string, SendRecord>();
  readonly handled: Handling[] = [];
  readonly pushes: PushRecord[] = [];
  readonly delivered: Delivery[] = [];
  readonly lost: LostReport[] = [];
  /** Fault steps executed, by kind. */
  readonly faults: Record<FaultKind, number> = { cut: 0, 'half-open': 0, fragment: 0, delay: 0, restart: 0 };
  /** Connections destroyed by `cutAll()` (cut steps and the end of half-open spells). */
  connectionsCut = 0;
  /** Pushes the schedule wanted while no session was open (skipped, not sent). */
  pushesSkipped = 0;
  resumed = 0;
  /** Client disconnects by close code (4000 = heartbeat timeout). */
  readonly disconnects: Record<string, number> = {};
  /** Anything that should not happen at all in a run: error and protocol-error events. */
  readonly unexpected: string[] = [];
}

/** One `server.publish()` on the chaos channel, numbered `k` from 1 per generation. */
export interface PublicationRecord {
  readonly gen: number;
  readonly k: number;
  /** Where the server stored it; undefined while pending or when it failed (its server was closing). */
  offset?: number;
  epoch?: string;
  failed?: unknown;
}

/** What the client's subscription to the chaos channel saw, in the order it saw it. */
export type ChannelObservation =
  | { readonly kind: 'pub'; readonly offset: number; readonly epoch: string; readonly g: number; readonly k: number }
  | { readonly kind: 'gap'; readonly from: number; readonly to: number; readonly epoch: string; readonly reason: string };

/** The channel part of a run's ledger. */
export class ChannelLedger {
  readonly publications: PublicationRecord[] = [];
  readonly observed: ChannelObservation[] = [];
  /** The subscription's position once it was ready: the subscribe point. */
  start: { readonly offset: number; readonly epoch: string } | undefined;
}
