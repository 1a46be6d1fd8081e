import { nanoid } from 'nanoid';
import type { Engine, Unlisten } from '../engine/engine.js';
import type { NodeEngine, PushEngine, SessionEngine } from '../engine/engine-sessions.js';
import { inProcessEngines } from '../engine/memory-engine.js';
import { Orphans } from './orphans.js';

/** The nodes of this process, by id: a notice to one of them needs no engine. */
const localNodes = new Map<string, SharedNode>();

/** An engine that holds session state too: what turns on the shared path (several nodes, one engine). */
export interface SharedEngine extends Engine {
  readonly sessions: SessionEngine;
  readonly pushes: PushEngine;
  readonly nodes: NodeEngine;
}

export function isSharedEngine(engine: Engine | undefined): engine is SharedEngine {
  return engine !== undefined && engine.sessions !== undefined && engine.pushes !== undefined && engine.nodes !== undefined;
}

/**
 * The per-node channel of "you no longer hold this session" notices. `!` is not allowed in a
 * client's channel names (protocol limits), so no client can subscribe to it.
 */
const noticeChannel = (node: string) => `!node:${node}`;

/**
 * This server as one node of many on a shared engine: its id, its heartbeat (a node whose
 * heartbeat lapsed is dead, and its running claims may be taken over, guarantee 10), and the
 * notices other nodes send it when a client resumed one of its sessions elsewhere. Every engine
 * failure is reported, never thrown: a heartbeat that fails is tried again at the next tick.
 */
export class SharedNode {
  readonly id = nanoid();
  private timer: ReturnType<typeof setInterval> | undefined;
  private unlisten: Promise<Unlisten | undefined> | undefined;
  private stopped = false;
  /** Claims this node holds that no handler of its will complete, settled once the engine answers. */
  readonly orphans: Orphans;

  constructor(
    readonly engine: SharedEngine,
    /** A node silent this long is dead; it beats every third of it. */
    private readonly timeoutMs: number,
    private readonly reportError: (error: unknown) => void,
    /** Another node took session `sid`: drop it here. */
    private readonly onMoved: (sid: string) => void,
    /** The sessions' TTL in the engine: how long an orphaned claim is worth settling. */
    sessionTtlMs: number,
  ) {
    this.orphans = new Orphans(engine.sessions, this.id, sessionTtlMs, reportError);
  }

  /** Beat now and every `timeoutMs / 3`; hear notices. Resolves once the first beat was tried. */
  async start(): Promise<void> {
    if (this.timer !== undefined || this.stopped) return;
    this.timer = setInterval(() => void this.beat(), Math.max(10, Math.floor(this.timeoutMs / 3)));
    this.timer.unref?.();
    localNodes.set(this.id, this);
    // Nodes on an in-process engine are all here; others may be in other processes.
    if (inProcessEngines.has(this.engine)) {
      await this.beat();
      return;
    }
    this.unlisten = this.engine
      .listen(noticeChannel(this.id), (event) => {
        if (event.type === 'publication') this.onMoved(event.publication.data);
      })
      .catch((error: unknown) => {
        this.reportError(new Error('the engine refused the node notice channel; moved sessions are found by the touch sweep only', { cause: error }));
        return undefined;
      });
    await this.beat();
  }

  /** Tell `node` that it no longer holds `sid` (at most once: the touch sweep is the fallback). */
  notify(node: string, sid: string): void {
    if (node === this.id) return;
    const here = localNodes.get(node);
    if (here !== undefined) {
      queueMicrotask(() => here.onMoved(sid));
      return;
    }
    this.engine.publish(noticeChannel(node), sid, { historySize: 0, historyTtlMs: 1_000 }).then(undefined, this.reportError);
  }

  /** Leave now: another node may take over this one's claims at once. Bounded by the engine's own timeouts. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    localNodes.delete(this.id);
    this.orphans.stop();
    clearInterval(this.timer);
    this.timer = undefined;
    try {
      const unlisten = await this.unlisten;
      await unlisten?.();
    } catch (error) {
      this.reportError(error);
    }
    try {
      await this.engine.nodes.leave(this.id);
    } catch (error) {
      this.reportError(error);
    }
  }

  private async beat(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.engine.nodes.heartbeat(this.id, this.timeoutMs);
    } catch (error) {
      this.reportError(error);
    }
  }
}
