import { Scope, type ScopeConfig } from './scope.js';

/**
 * Per-session scopes for one side, bounded: the plugin interface has no "session closed" hook,
 * so we cannot know when a session's figures may go. We keep the `max` most recently active
 * sessions (a Map in insertion order is the LRU list) and recycle the least recently active
 * one's scope for a newcomer — reset, not reallocated, so churn makes no garbage.
 */
export class SessionTable {
  private readonly map = new Map<string, Scope>();
  // Consecutive events usually belong to the same session: skip the Map for them.
  private lastId: string | undefined;
  private last: Scope | undefined;

  constructor(
    private readonly max: number,
    private readonly config: ScopeConfig,
  ) {}

  /** The scope of session `id`, created (or recycled) on first sight; marks it most recent. */
  touch(id: string, now: () => number): Scope {
    if (id === this.lastId) return this.last as Scope;
    let scope = this.map.get(id);
    if (scope !== undefined) {
      this.map.delete(id);
    } else if (this.map.size >= this.max) {
      const oldest = this.map.keys().next().value as string;
      scope = this.map.get(oldest) as Scope;
      this.map.delete(oldest);
      scope.reset(now());
    } else {
      scope = new Scope(this.config, now());
    }
    scope.id = id;
    this.map.set(id, scope);
    this.lastId = id;
    this.last = scope;
    return scope;
  }

  get(id: string): Scope | undefined {
    return this.map.get(id);
  }

  get size(): number {
    return this.map.size;
  }

  /** Scopes from least to most recently active. */
  values(): IterableIterator<Scope> {
    return this.map.values();
  }

  clear(): void {
    this.map.clear();
    this.lastId = undefined;
    this.last = undefined;
  }
}
