import type { ErrorCode } from './errors.js';

/**
 * The plugin interface both the client session and the server call. A plugin sees events, never
 * the internals; the metrics package is written against this file alone.
 *
 * Times named `at` are monotonic milliseconds (`performance.now()`); `sentAt` and `wallAt` are
 * wall-clock milliseconds since the epoch, because they are compared across machines.
 */
export type Side = 'client' | 'server';

export interface PluginContext {
  readonly side: Side;
  /** The session the event belongs to, once one exists. */
  readonly sessionId: string | undefined;
}

/** `send()` accepted a message into the queue. */
export interface SendEvent {
  readonly id: string;
  readonly bytes: number;
  readonly at: number;
}

/** A message was written to the socket: the first time, or again after a reconnect. */
export interface TransmitEvent {
  readonly id: string;
  readonly seq: number;
  readonly queuedAt: number;
  readonly at: number;
  readonly retransmit: boolean;
}

/** The peer acknowledged a message. `errorCode` is set when the remote handler failed. */
export interface AckEvent {
  readonly id: string;
  readonly seq: number;
  readonly queuedAt: number;
  /** When the message was first transmitted. */
  readonly sentAt: number;
  readonly at: number;
  readonly errorCode?: string;
}

/** A `send()` settled without an ack (deadline, abort, close, full queue, too large). */
export interface FailEvent {
  readonly id: string;
  readonly code: ErrorCode;
  readonly maybeDelivered: boolean;
  readonly at: number;
}

/** A message arrived from the peer, before dedup (`duplicate` says whether it was dropped). */
export interface ReceiveEvent {
  readonly id: string;
  readonly seq: number;
  /** The sender's wall clock at first transmission (`msg.ts`). */
  readonly sentAt: number;
  /** This side's wall clock on arrival. */
  readonly wallAt: number;
  readonly at: number;
  readonly duplicate: boolean;
}

/** A message was handed to the application (a listener, `receive()`, or the server handler). */
export interface DeliverEvent {
  readonly id: string;
  readonly seq: number;
  readonly sentAt: number;
  readonly wallAt: number;
  readonly at: number;
}

export interface StateEvent {
  readonly from: string;
  readonly to: string;
  readonly reason: string;
  readonly at: number;
}

/** A reconnect attempt is scheduled after `delayMs`. */
export interface ReconnectEvent {
  readonly attempt: number;
  readonly delayMs: number;
  readonly at: number;
}

/** A connection completed its handshake after an earlier one was lost. */
export interface ResumeEvent {
  readonly resumed: boolean;
  /** Messages this side retransmitted (or, on the server, replayed) because of the resume. */
  readonly replayed: number;
  /** Time from losing the previous connection to this handshake. */
  readonly downtimeMs: number;
  readonly at: number;
}

export interface SessionLostEvent {
  /** Messages whose outcome is unknown; they are re-sent under their original ids. */
  readonly unknown: number;
  readonly at: number;
}

/** Something was refused for lack of room (queue full) or shed by a limit. */
export interface DropEvent {
  readonly reason: 'queue-full' | 'payload-too-large' | 'rate-limit' | 'buffer-full';
  readonly count: number;
  readonly at: number;
}

export interface ProtocolErrorEvent {
  readonly closeCode: number;
  readonly message: string;
  readonly at: number;
}

/** A heartbeat round trip completed: `offsetMs` estimates peer clock − local clock. */
export interface ClockEvent {
  readonly rttMs: number;
  readonly offsetMs: number;
  readonly at: number;
}

/** WebSocket messages written (`out`) or read (`in`), in UTF-16 code units of text. */
export interface BytesEvent {
  readonly in: number;
  readonly out: number;
}

export interface LifelinePlugin {
  readonly name: string;
  onSend?(event: SendEvent, ctx: PluginContext): void;
  onTransmit?(event: TransmitEvent, ctx: PluginContext): void;
  onAck?(event: AckEvent, ctx: PluginContext): void;
  onFail?(event: FailEvent, ctx: PluginContext): void;
  onReceive?(event: ReceiveEvent, ctx: PluginContext): void;
  onDeliver?(event: DeliverEvent, ctx: PluginContext): void;
  onState?(event: StateEvent, ctx: PluginContext): void;
  onReconnect?(event: ReconnectEvent, ctx: PluginContext): void;
  onResume?(event: ResumeEvent, ctx: PluginContext): void;
  onSessionLost?(event: SessionLostEvent, ctx: PluginContext): void;
  onDrop?(event: DropEvent, ctx: PluginContext): void;
  onProtocolError?(event: ProtocolErrorEvent, ctx: PluginContext): void;
  onClock?(event: ClockEvent, ctx: PluginContext): void;
  onBytes?(event: BytesEvent, ctx: PluginContext): void;
}

export type PluginHook = Exclude<keyof LifelinePlugin, 'name'>;
type EventOf<K extends PluginHook> = Parameters<NonNullable<LifelinePlugin[K]>>[0];
type Dispatch<K extends PluginHook> = (event: EventOf<K>, ctx: PluginContext) => void;
type ErrorReporter = (error: unknown, plugin: string, hook: PluginHook) => void;

const noop = (): void => {};

/**
 * Calls plugins with isolation: a plugin that throws is reported through `onError` and never
 * breaks delivery. Call sites guard with `if (host.active)` so no plugin costs one branch.
 *
 * Each hook is a dispatcher of its own, built once from the plugins that implement it (so the
 * hot path makes no lookup by hook name, and a hook nobody implements is a no-op). Plugins'
 * methods are therefore read when the host is built: a method added to a plugin later is not
 * called.
 */
export class PluginHost {
  readonly active: boolean;
  readonly onSend: Dispatch<'onSend'>;
  readonly onTransmit: Dispatch<'onTransmit'>;
  readonly onAck: Dispatch<'onAck'>;
  readonly onFail: Dispatch<'onFail'>;
  readonly onReceive: Dispatch<'onReceive'>;
  readonly onDeliver: Dispatch<'onDeliver'>;
  readonly onState: Dispatch<'onState'>;
  readonly onReconnect: Dispatch<'onReconnect'>;
  readonly onResume: Dispatch<'onResume'>;
  readonly onSessionLost: Dispatch<'onSessionLost'>;
  readonly onDrop: Dispatch<'onDrop'>;
  readonly onProtocolError: Dispatch<'onProtocolError'>;
  readonly onClock: Dispatch<'onClock'>;
  readonly onBytes: Dispatch<'onBytes'>;

  constructor(plugins: readonly LifelinePlugin[] | undefined, onError: ErrorReporter) {
    const list = plugins ?? [];
    this.active = list.length > 0;
    const d = <K extends PluginHook>(hook: K): Dispatch<K> => dispatcher(list, hook, onError);
    this.onSend = d('onSend');
    this.onTransmit = d('onTransmit');
    this.onAck = d('onAck');
    this.onFail = d('onFail');
    this.onReceive = d('onReceive');
    this.onDeliver = d('onDeliver');
    this.onState = d('onState');
    this.onReconnect = d('onReconnect');
    this.onResume = d('onResume');
    this.onSessionLost = d('onSessionLost');
    this.onDrop = d('onDrop');
    this.onProtocolError = d('onProtocolError');
    this.onClock = d('onClock');
    this.onBytes = d('onBytes');
  }
}

function dispatcher<K extends PluginHook>(plugins: readonly LifelinePlugin[], hook: K, onError: ErrorReporter): Dispatch<K> {
  type Target = { readonly name: string; readonly self: LifelinePlugin; readonly fn: Dispatch<K> };
  const targets: Target[] = [];
  for (const plugin of plugins) {
    const fn = plugin[hook] as Dispatch<K> | undefined;
    if (typeof fn === 'function') targets.push({ name: plugin.name, self: plugin, fn });
  }
  const report = (error: unknown, name: string): void => {
    try {
      onError(error, name, hook);
    } catch {
      // A failing error reporter must not break delivery either.
    }
  };
  if (targets.length === 0) return noop;
  return (event, ctx) => {
    for (let i = 0; i < targets.length; i++) {
      const { name, self, fn } = targets[i] as Target;
      try {
        fn.call(self, event, ctx);
      } catch (error) {
        report(error, name);
      }
    }
  };
}

/** Monotonic milliseconds, for `at` fields. */
export const now = (): number => performance.now();
