import type { StoredMessage } from '@lifeline/sdk';

/*
 * Lines this page sent whose publication it has not seen yet: shown greyed under the room's
 * lines until the room's channel brings them back (then they are simply lines). They live outside
 * React so that switching rooms keeps them, and are seeded from the durable outbox on start, so
 * lines typed before a reload still show as pending while the SDK sends them again.
 */

export interface PendingLine {
  readonly clientMsgId: string;
  readonly room: string;
  readonly text: string;
  /** `sent`: the server published it (at `offset`); it shows until the room's list has it. */
  readonly status: 'pending' | 'sent' | 'failed';
  readonly offset?: number;
  readonly error?: string;
}

/** Bound on what the store keeps; the oldest settled lines go first. */
const MAX_LINES = 500;

export class PendingStore {
  private lines: readonly PendingLine[] = [];
  private readonly listeners = new Set<() => void>();

  readonly snapshot = (): readonly PendingLine[] => this.lines;

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  add(line: PendingLine): void {
    if (this.lines.some((l) => l.clientMsgId === line.clientMsgId)) return;
    let next = [...this.lines, line];
    while (next.length > MAX_LINES) {
      const settled = next.findIndex((l) => l.status !== 'pending');
      next.splice(settled === -1 ? 0 : settled, 1);
    }
    this.set(next);
  }

  update(clientMsgId: string, change: Partial<PendingLine>): void {
    if (!this.lines.some((l) => l.clientMsgId === clientMsgId)) return;
    this.set(this.lines.map((l) => (l.clientMsgId === clientMsgId ? { ...l, ...change } : l)));
  }

  remove(clientMsgIds: ReadonlySet<string>): void {
    if (!this.lines.some((l) => clientMsgIds.has(l.clientMsgId))) return;
    this.set(this.lines.filter((l) => !clientMsgIds.has(l.clientMsgId)));
  }

  /** Lines a durable outbox kept from an earlier run of this page (only `say` requests). */
  seed(stored: readonly StoredMessage[]): void {
    for (const message of stored) {
      try {
        const data = JSON.parse(message.data) as { op?: unknown; room?: unknown; text?: unknown; clientMsgId?: unknown };
        if (data.op === 'say' && typeof data.room === 'string' && typeof data.text === 'string' && data.clientMsgId === message.id) {
          this.add({ clientMsgId: message.id, room: data.room, text: data.text, status: 'pending' });
        }
      } catch {
        // Not ours to show: the SDK still sends it.
      }
    }
  }

  private set(lines: readonly PendingLine[]): void {
    this.lines = lines;
    for (const listener of [...this.listeners]) listener();
  }
}

/** A fresh id for one line (the message id of its `send()` too): 128 random bits, hex. */
export function newClientMsgId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
