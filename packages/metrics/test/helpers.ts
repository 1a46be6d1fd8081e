import type { AckEvent, DeliverEvent, PluginContext, Side, TransmitEvent } from '@lifeline/protocol';

export const client: PluginContext = { side: 'client', sessionId: 's-client' };
export const server = (sessionId: string | undefined): PluginContext => ({ side: 'server', sessionId });
export const ctxOf = (side: Side, sessionId?: string): PluginContext => ({ side, sessionId });

/** An ack `ackMs` after queueing, of a message that waited `queueMs` before its first transmit. */
export function ack(ackMs: number, queueMs = 0, base = 1_000): AckEvent {
  return { id: `m${ackMs}`, seq: 1, queuedAt: base, sentAt: base + queueMs, at: base + ackMs };
}

export function transmit(queueMs: number, retransmit = false, base = 1_000): TransmitEvent {
  return { id: 'm', seq: 1, queuedAt: base, at: base + queueMs, retransmit };
}

/** A delivery whose sender stamped `sentAt` on its own wall clock and that we saw at `wallAt` on ours. */
export function deliver(sentAt: number, wallAt: number): DeliverEvent {
  return { id: 'm', seq: 1, sentAt, wallAt, at: 5_000 };
}
