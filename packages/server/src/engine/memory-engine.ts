import { nanoid } from 'nanoid';
import { ClosedError } from '@lifeline/protocol';
import { Fifo } from '@lifeline/protocol/internal';
import {
  ChannelLimitError,
  type ChannelEvent,
  type ChannelListener,
  type ChannelPosition,
  type Engine,
  type HistoryOptions,
  type HistoryPage,
  type PresenceMember,
  type Publication,
  type PublishOptions,
  type PublishResult,
  type Unlisten,
} from './engine.js';
import type { NodeEngine, PushEngine, SessionEngine } from './engine-sessions.js';
import { memorySessionState } from './memory-sessions.js';

export interface MemoryEngineOptions {
  /** Most channels held at once (with a position, history, members or listeners). @default 100_000 */
  maxChannels?: number;
  /** Most bytes of history one channel keeps; the oldest publications go first. @default 1_048_576 */
  maxHistoryBytes?: number;
  /** Most bytes of history all channels keep together; the oldest publications go first. @default 67_108_864 */
  maxBytes?: number;
  /** Most members present in one channel. @default 10_000 */
  maxMembers?: number;
  /**
   * How long a channel's position (offset, epoch) outlives its last publication, member,
   * listener or read, ms. After it, the next publication opens a new epoch at offset 1.
   * @default 300_000
   */
  positionTtlMs?: number;
  /** Interval of the one timer that expires history, members and idle channels, ms (`Infinity`: none). @default 1_000 */
  sweepIntervalMs?: number;
  /** Wall clock, ms since the Unix epoch. @default Date.now */
  now?: () => number;
  /** Where an exception thrown by a listener goes (the other listeners still run). @default console.error */
  onError?: (error: unknown) => void;
}

export const memoryEngineDefaults = Object.freeze({
  maxChannels: 100_000,
  maxHistoryBytes: 1 << 20,
  maxBytes: 64 << 20,
  maxMembers: 10_000,
  positionTtlMs: 300_000,
  sweepIntervalMs: 1_000,
});

/** The embedded engine plus what tests and the server's shutdown need of it. */
export interface MemoryEngine extends Engine {
  readonly sessions: SessionEngine;
  readonly pushes: PushEngine;
  readonly nodes: NodeEngine;
  /** Sessions held now (for tests and metrics). */
  readonly sessionCount: number;
  /** Expire history, members, idle channels, sessions and heartbeats now, as the timer does. */
  sweep(): void;
  /** Channels held now (for tests and metrics). */
  readonly channelCount: number;
  /** Bytes of history held now, all channels together. */
  readonly historyBytes: number;
}

/**
 * What a stored publication costs beyond its strings: the objects, the Fifo slots and the id
 * index entry. Counted so that a flood of empty publications is bounded by bytes too.
 */
const ENTRY_OVERHEAD = 96;
const MAX_CHANNEL_NAME = 255;
const MAX_ID = 128;
const MAX_SESSION_ID = 1024;

interface Entry {
  readonly pub: Publication;
  readonly size: number;
  readonly channel: ChannelState;
  /** Evicted from its channel; its slot in the global order is skipped. */
  gone: boolean;
}

interface Presence {
  readonly member: PresenceMember;
  expiresAt: number;
}

interface ChannelState {
  readonly name: string;
  readonly epoch: string;
  offset: number;
  readonly log: Fifo<Entry>;
  bytes: number;
  /** Idempotency ids of the publications still in `log`. */
  readonly ids: Map<string, Entry>;
  /** Of the latest publish: retention applies channel-wide, so expiry stays a prefix of the log. */
  ttlMs: number;
  readonly members: Map<string, Presence>;
  readonly listeners: Set<ChannelListener>;
  touchedAt: number;
}

function text(name: string, value: unknown, max: number): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw new TypeError(`${name} must be a string of 1 to ${max} characters, got ${typeof value === 'string' ? `${value.length} characters` : String(value)}`);
  }
  return value;
}

function integer(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new TypeError(`${name} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

function duration(name: string, value: unknown, allowInfinity = false): number {
  if (typeof value !== 'number' || !(value > 0) || (!allowInfinity && !Number.isFinite(value))) {
    throw new TypeError(`${name} must be a ${allowInfinity ? '' : 'finite '}number above 0, got ${String(value)}`);
  }
  return value;
}

function resolve(options: MemoryEngineOptions) {
  const d = memoryEngineDefaults;
  const resolved = {
    maxChannels: integer('maxChannels', options.maxChannels ?? d.maxChannels, 1),
    maxHistoryBytes: integer('maxHistoryBytes', options.maxHistoryBytes ?? d.maxHistoryBytes, 1),
    maxBytes: integer('maxBytes', options.maxBytes ?? d.maxBytes, 1),
    maxMembers: integer('maxMembers', options.maxMembers ?? d.maxMembers, 1),
    positionTtlMs: duration('positionTtlMs', options.positionTtlMs ?? d.positionTtlMs),
    sweepIntervalMs: duration('sweepIntervalMs', options.sweepIntervalMs ?? d.sweepIntervalMs, true),
    now: options.now ?? Date.now,
    onError: options.onError ?? ((error: unknown) => console.error('lifeline memoryEngine: a channel listener threw', error)),
  };
  if (typeof resolved.now !== 'function') throw new TypeError('now must be a function');
  if (typeof resolved.onError !== 'function') throw new TypeError('onError must be a function');
  return resolved;
}

/**
 * The embedded engine: one process, nothing to install. Channel logs are bounded rings (entries,
 * bytes per channel, bytes in all, age); expiry is lazy on every access and swept by one shared
 * timer, never a timer per publication or per channel; channels with nothing left are dropped,
 * so the channel map is bounded by what is in use.
 */
export function memoryEngine(options: MemoryEngineOptions = {}): MemoryEngine {
  const o = resolve(options);
  const channels = new Map<string, ChannelState>();
  /**
   * Channels with no history, members or listeners, least recently touched first (re-inserted on
   * every touch): dropped after `positionTtlMs`, or earlier when `maxChannels` needs room, since
   * losing an idle channel's position costs a subscriber at most a `gap`, never a silent hole.
   */
  const idle = new Map<string, ChannelState>();
  /** Every stored publication in append order, all channels together: the global byte bound evicts from its head. */
  const order = new Fifo<Entry>();
  let live = 0;
  let totalBytes = 0;
  let closed = false;

  const timer = Number.isFinite(o.sweepIntervalMs) ? setInterval(() => sweep(), o.sweepIntervalMs) : undefined;
  timer?.unref?.();

  function checkOpen(method: string): void {
    if (closed) throw new ClosedError(`memoryEngine.${method}(): the engine is closed`);
  }

  const state = memorySessionState(o.now, checkOpen);

  /** Put `ch` in `idle` or take it out, as it now is; its place in the touch order stays. */
  function settle(ch: ChannelState): void {
    if (ch.log.length === 0 && ch.members.size === 0 && ch.listeners.size === 0) {
      if (!idle.has(ch.name)) idle.set(ch.name, ch);
    } else idle.delete(ch.name);
  }

  function touch(ch: ChannelState, now: number): ChannelState {
    ch.touchedAt = now;
    idle.delete(ch.name); // re-inserted last: most recently touched
    settle(ch);
    return ch;
  }

  function drop(ch: ChannelState): void {
    channels.delete(ch.name);
    idle.delete(ch.name);
  }

  function channel(name: string, now: number): ChannelState {
    const existing = channels.get(name);
    if (existing !== undefined) {
      expireHistory(existing, now);
      expireMembers(existing, now);
      return existing;
    }
    if (channels.size >= o.maxChannels) {
      const oldest = idle.values().next();
      if (oldest.done === true) throw new ChannelLimitError('channels', `memoryEngine holds its maxChannels (${o.maxChannels}) channels, none of them idle`);
      drop(oldest.value);
    }
    const ch: ChannelState = {
      name,
      epoch: nanoid(),
      offset: 0,
      log: new Fifo<Entry>(),
      bytes: 0,
      ids: new Map(),
      ttlMs: 0,
      members: new Map(),
      listeners: new Set(),
      touchedAt: now,
    };
    channels.set(name, ch);
    return ch;
  }

  function evictHead(ch: ChannelState): void {
    const entry = ch.log.shift() as Entry;
    entry.gone = true;
    live--;
    ch.bytes -= entry.size;
    totalBytes -= entry.size;
    const id = entry.pub.id;
    if (id !== undefined && ch.ids.get(id) === entry) ch.ids.delete(id);
    // Slots of evicted entries stay in `order` until its head reaches them; compact when they
    // outnumber the live ones, so `order` stays within twice what is stored.
    if (order.length > 1024 && order.length > live * 2) order.retain((e) => !e.gone);
  }

  function expireHistory(ch: ChannelState, now: number): void {
    const log = ch.log;
    for (let head = log.peek(); head !== undefined && head.pub.publishedAt + ch.ttlMs <= now; head = log.peek()) evictHead(ch);
  }

  function notify(ch: ChannelState, event: ChannelEvent): void {
    if (ch.listeners.size === 0) return;
    // A copy, so a listener that stops listening (or starts) does not change this round.
    for (const listener of [...ch.listeners]) {
      try {
        listener(event);
      } catch (error) {
        o.onError(error);
      }
    }
  }

  function expireMembers(ch: ChannelState, now: number): void {
    if (ch.members.size === 0) return;
    for (const [clientId, p] of ch.members) {
      if (p.expiresAt > now) continue;
      ch.members.delete(clientId);
      notify(ch, { type: 'leave', channel: ch.name, member: p.member });
    }
  }

  function sweep(): void {
    if (closed) return;
    state.sweep();
    const now = o.now();
    for (const ch of channels.values()) {
      expireHistory(ch, now);
      expireMembers(ch, now);
      settle(ch);
    }
    // Not in strict touch order (a channel that went idle by expiry joins last), so all of it.
    for (const ch of idle.values()) if (ch.touchedAt + o.positionTtlMs <= now) drop(ch);
  }

  function trimToBounds(ch: ChannelState, historySize: number): void {
    while (ch.log.length > historySize || ch.bytes > o.maxHistoryBytes) evictHead(ch);
    while (totalBytes > o.maxBytes) {
      const head = order.peek() as Entry;
      if (head.gone) order.shift();
      else evictHead(head.channel); // the oldest entry overall is the oldest of its channel
    }
    // Drop the evicted slots at the head of `order` now rather than at the next global eviction.
    for (let head = order.peek(); head !== undefined && head.gone; head = order.peek()) order.shift();
  }

  const engine: MemoryEngine = {
    async publish(name: string, data: string, options: PublishOptions): Promise<PublishResult> {
      checkOpen('publish');
      text('channel', name, MAX_CHANNEL_NAME);
      if (typeof data !== 'string') throw new TypeError('data must be a string (the payload, encoded)');
      if (typeof options !== 'object' || options === null) throw new TypeError('publish() needs { historySize, historyTtlMs }');
      const id = options.id === undefined ? undefined : text('id', options.id, MAX_ID);
      const historySize = integer('historySize', options.historySize, 0);
      const ttlMs = duration('historyTtlMs', options.historyTtlMs);
      const size = data.length + (id?.length ?? 0) + ENTRY_OVERHEAD;
      if (historySize > 0 && (size > o.maxHistoryBytes || size > o.maxBytes)) {
        throw new ChannelLimitError('bytes', `a publication of ${size} bytes is larger than a channel history may hold (${Math.min(o.maxHistoryBytes, o.maxBytes)})`);
      }
      const now = o.now();
      const ch = channel(name, now);
      if (id !== undefined) {
        const first = ch.ids.get(id);
        if (first !== undefined) {
          touch(ch, now);
          return { offset: first.pub.offset, epoch: ch.epoch, duplicate: true };
        }
      }
      ch.ttlMs = ttlMs;
      // A publish after a clock step back must not sort before the publications already stored.
      const last = ch.log.length === 0 ? undefined : ch.log.at(ch.log.length - 1);
      const publishedAt = last === undefined ? now : Math.max(now, last.pub.publishedAt);
      const pub: Publication = id === undefined ? { offset: ++ch.offset, data, publishedAt } : { offset: ++ch.offset, id, data, publishedAt };
      if (historySize > 0) {
        const entry: Entry = { pub, size, channel: ch, gone: false };
        ch.log.push(entry);
        order.push(entry);
        live++;
        ch.bytes += size;
        totalBytes += size;
        if (id !== undefined) ch.ids.set(id, entry);
      }
      trimToBounds(ch, historySize);
      touch(ch, now);
      notify(ch, { type: 'publication', channel: name, epoch: ch.epoch, publication: pub });
      return { offset: pub.offset, epoch: ch.epoch, duplicate: false };
    },

    async history(name: string, options: HistoryOptions): Promise<HistoryPage> {
      checkOpen('history');
      text('channel', name, MAX_CHANNEL_NAME);
      if (typeof options !== 'object' || options === null) throw new TypeError('history() needs { limit }');
      const since = options.since === undefined ? 0 : integer('since', options.since, 0);
      const limit = integer('limit', options.limit, 0);
      const now = o.now();
      const ch = touch(channel(name, now), now);
      const publications: Publication[] = [];
      const log = ch.log;
      const first = log.peek();
      if (limit > 0 && first !== undefined) {
        // Offsets in the log are consecutive, so the cursor is an index, not a search.
        let i = Math.max(0, since + 1 - first.pub.offset);
        for (; i < log.length && publications.length < limit; i++) publications.push((log.at(i) as Entry).pub);
      }
      return { publications, offset: ch.offset, epoch: ch.epoch };
    },

    async position(name: string): Promise<ChannelPosition> {
      checkOpen('position');
      text('channel', name, MAX_CHANNEL_NAME);
      const now = o.now();
      const ch = touch(channel(name, now), now);
      return { offset: ch.offset, epoch: ch.epoch };
    },

    async listen(name: string, listener: ChannelListener): Promise<Unlisten> {
      checkOpen('listen');
      text('channel', name, MAX_CHANNEL_NAME);
      if (typeof listener !== 'function') throw new TypeError('listener must be a function');
      const now = o.now();
      const ch = channel(name, now);
      // Each call is its own registration, even for a listener already registered.
      const own: ChannelListener = (event) => listener(event);
      ch.listeners.add(own);
      touch(ch, now);
      return async () => {
        // A channel with a listener is never dropped, but close() drops them all.
        if (!ch.listeners.delete(own) || channels.get(ch.name) !== ch) return;
        touch(ch, o.now());
      };
    },

    async presenceAdd(name: string, member: PresenceMember, ttlMs: number): Promise<void> {
      checkOpen('presenceAdd');
      text('channel', name, MAX_CHANNEL_NAME);
      if (typeof member !== 'object' || member === null) throw new TypeError('member must be { clientId, sessionId, identity? }');
      const clientId = text('member.clientId', member.clientId, MAX_ID);
      const sessionId = text('member.sessionId', member.sessionId, MAX_SESSION_ID);
      duration('ttlMs', ttlMs);
      const now = o.now();
      const ch = channel(name, now);
      const present = ch.members.get(clientId);
      if (present !== undefined) {
        present.expiresAt = now + ttlMs;
        touch(ch, now);
        return;
      }
      if (ch.members.size >= o.maxMembers) {
        settle(ch);
        throw new ChannelLimitError('members', `channel ${name} has its maxMembers (${o.maxMembers}) members`);
      }
      // Stored as given at join: a refresh does not change what `leave` will say.
      const stored: PresenceMember = member.identity === undefined ? { clientId, sessionId } : { clientId, sessionId, identity: member.identity };
      ch.members.set(clientId, { member: stored, expiresAt: now + ttlMs });
      touch(ch, now);
      notify(ch, { type: 'join', channel: name, member: stored });
    },

    async presenceRemove(name: string, clientId: string): Promise<void> {
      checkOpen('presenceRemove');
      text('channel', name, MAX_CHANNEL_NAME);
      text('clientId', clientId, MAX_ID);
      const ch = channels.get(name);
      if (ch === undefined) return;
      const now = o.now();
      expireMembers(ch, now);
      const present = ch.members.get(clientId);
      if (present === undefined) return;
      ch.members.delete(clientId);
      touch(ch, now);
      notify(ch, { type: 'leave', channel: name, member: present.member });
    },

    async presence(name: string): Promise<PresenceMember[]> {
      checkOpen('presence');
      text('channel', name, MAX_CHANNEL_NAME);
      const ch = channels.get(name);
      if (ch === undefined) return [];
      expireMembers(ch, o.now());
      settle(ch);
      return Array.from(ch.members.values(), (p) => p.member);
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (timer !== undefined) clearInterval(timer);
      channels.clear();
      state.clear();
      idle.clear();
      order.drain();
      live = 0;
      totalBytes = 0;
    },

    sweep,

    sessions: state.sessions,
    pushes: state.pushes,
    nodes: state.nodes,

    get sessionCount() {
      return state.sessionCount;
    },

    get channelCount() {
      return channels.size;
    },

    get historyBytes() {
      return totalBytes;
    },
  };
  inProcessEngines.add(engine);
  return engine;
}

/**
 * Engines whose every node lives in this process (a memory engine): nodes on them tell each
 * other of a moved session directly, and take no channel of the engine for it.
 */
export const inProcessEngines = new WeakSet<Engine>();
