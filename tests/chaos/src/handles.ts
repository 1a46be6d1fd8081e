import { createHook, type AsyncHook } from 'node:async_hooks';
import { turn } from '@lifeline/test-kit';

/**
 * Leak detection. `activeHandles()` counts what keeps the event loop alive
 * (`process.getActiveResourcesInfo()`: ref'd timers and TCP sockets/servers). Unref'd timers
 * (heartbeats, deadline sweeps) do not show there, so `ResourceTracker` also follows every
 * timer and TCP handle created during a run through async_hooks, ref'd or not.
 */

const watched = new Set(['Timeout', 'TCPSocketWrap', 'TCPServerWrap']);

export type Counts = Record<string, number>;

export function activeHandles(): Counts {
  const counts: Counts = {};
  for (const kind of process.getActiveResourcesInfo()) if (watched.has(kind)) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

/** Kinds whose count is above `baseline`, as `Timeout +2`; empty when none. */
export function excess(now: Counts, baseline: Counts): string[] {
  const out: string[] = [];
  for (const [kind, n] of Object.entries(now)) {
    const extra = n - (baseline[kind] ?? 0);
    if (extra > 0) out.push(`${kind} +${extra}`);
  }
  return out;
}

/**
 * Let sockets finish closing: check after each event-loop turn (never a timer, which would count
 * itself) until `done()` holds or `maxMs` passed. Returns whether it held.
 */
export async function settle(done: () => boolean, maxMs: number): Promise<boolean> {
  const until = performance.now() + maxMs;
  while (!done()) {
    if (performance.now() > until) return false;
    await turn();
  }
  return true;
}

const tracked = new Set(['Timeout', 'TCPWRAP', 'TCPSERVERWRAP']);

/** Timers and TCP handles created while enabled and not yet destroyed (ref'd or not). */
export class ResourceTracker {
  private readonly live = new Map<number, { type: string; stack: string | undefined }>();
  private readonly hook: AsyncHook;

  constructor(withStacks = process.env.CHAOS_TRACE === '1') {
    this.hook = createHook({
      init: (id, type) => {
        if (tracked.has(type)) this.live.set(id, { type, stack: withStacks ? new Error().stack : undefined });
      },
      destroy: (id) => {
        this.live.delete(id);
      },
    });
  }

  start(): void {
    this.hook.enable();
  }

  stop(): void {
    this.hook.disable();
  }

  get size(): number {
    return this.live.size;
  }

  /** What is still alive, as `Timeout ×2`, with creation stacks when CHAOS_TRACE=1. */
  describe(): string[] {
    const counts = new Map<string, number>();
    for (const { type } of this.live.values()) counts.set(type, (counts.get(type) ?? 0) + 1);
    const lines = [...counts].map(([type, n]) => `${type} ×${n}`);
    for (const { type, stack } of this.live.values()) if (stack !== undefined) lines.push(`${type} created at ${stack}`);
    return lines;
  }
}

type Emitter = { eventNames(): Array<string | symbol>; listenerCount(event: string | symbol): number };

/** Listener counts per event of an EventEmitter (node's or eventemitter3). */
export function listeners(emitter: unknown): Counts {
  const e = emitter as Emitter;
  const counts: Counts = {};
  for (const name of e.eventNames()) counts[String(name)] = e.listenerCount(name);
  return counts;
}

/** Events whose listener count grew from `before` to `after`. */
export function grown(before: Counts, after: Counts): string[] {
  return Object.entries(after)
    .filter(([event, n]) => n > (before[event] ?? 0))
    .map(([event, n]) => `'${event}' ${before[event] ?? 0} → ${n}`);
}
