import { randomBytes } from 'node:crypto';
import { Buffer } from 'node:buffer';
import { Redis } from 'ioredis';
import { ClosedError } from '@lifeline/protocol';
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
  type NodeEngine,
  type PushEngine,
  type SessionEngine,
} from '@lifeline/server';
import { EngineUnavailableError } from './errors.js';
import { duration, integer, resolve, text, type RedisEngineOptions } from './options.js';
import { redisSessionState } from './redis-sessions.js';
import { keepScript, presenceAddScript, presenceRemoveScript, presenceScript, publishScript, readScript } from './scripts.js';
import { evalScript, script, type Script } from './lua.js';

const MAX_CHANNEL_NAME = 255;
const MAX_ID = 128;
const MAX_SESSION_ID = 1024;
/** What a stored entry costs beyond its strings (stream entry, id index); the scripts count the same. */
const ENTRY_OVERHEAD = 64;

const scripts = {
  publish: script(publishScript),
  read: script(readScript),
  presenceAdd: script(presenceAddScript),
  presenceRemove: script(presenceRemoveScript),
  presence: script(presenceScript),
  keep: script(keepScript),
};

interface Listening {
  readonly name: string;
  readonly ev: string;
  readonly listeners: Set<ChannelListener>;
  subscribed: Promise<unknown>;
}

/** The Redis engine plus what tests and metrics need of it. */
export interface RedisEngine extends Engine {
  readonly sessions: SessionEngine;
  readonly pushes: PushEngine;
  readonly nodes: NodeEngine;
  /** Channels this node listens to now (one Redis SUBSCRIBE each). */
  readonly listenedCount: number;
}

/**
 * The Engine on Redis: any number of server nodes share channel logs, positions and presence,
 * and hear each other's publications. See the package README for the key layout.
 */
export function redisEngine(options: RedisEngineOptions): RedisEngine {
  const o = resolve(options);
  const owned = options.client === undefined;
  const client: Redis =
    options.client ??
    new Redis(options.url as string, {
      // Bounded everywhere: a command fails after one reconnection or after commandTimeoutMs,
      // never waits forever; reconnection goes on by itself, at most 2 s apart.
      maxRetriesPerRequest: 1,
      commandTimeout: o.commandTimeoutMs,
      connectTimeout: o.commandTimeoutMs,
      retryStrategy: (times) => Math.min(50 * times, 2_000),
    });
  const subscriber = client.duplicate();
  const listening = new Map<string, Listening>();
  const byEv = new Map<string, Listening>();
  let closed = false;
  let sweeping = false;
  let sweepFailing = false;

  // ioredis emits 'error' on each failed connection attempt; they are reported, never thrown.
  const onConnectionError = (error: unknown) => o.onError(error);
  if (owned) client.on('error', onConnectionError);
  subscriber.on('error', onConnectionError);
  subscriber.on('message', (ev: string, message: string) => deliver(ev, message));

  const timer = setInterval(() => void sweep(), o.sweepIntervalMs);
  timer.unref?.();

  const keys = (channel: string): string[] => {
    const base = `${o.keyPrefix}{${channel}}:`;
    return [`${base}meta`, `${base}log`, `${base}ids`, `${base}pm`, `${base}pd`];
  };
  const evName = (channel: string) => `${o.keyPrefix}{${channel}}:ev`;

  function checkOpen(method: string): void {
    if (closed) throw new ClosedError(`redisEngine.${method}(): the engine is closed`);
  }

  function failure(method: string, channel: string, error: unknown): Error {
    const message = error instanceof Error ? error.message : String(error);
    const limit = /^LIFELINE_LIMIT (\w+)/.exec(message);
    if (limit?.[1] === 'members') return new ChannelLimitError('members', `channel ${channel} has its maxMembers (${o.maxMembers}) members`);
    if (closed) return new ClosedError(`redisEngine.${method}(): the engine closed during the call`);
    return new EngineUnavailableError(`redisEngine.${method}(${JSON.stringify(channel)}): Redis did not answer: ${message}`, { cause: error });
  }

  /** One script call: EVALSHA, and EVAL once when Redis lost its script cache (a restart). */
  async function run(method: string, s: Script, channel: string, args: (string | number)[]): Promise<unknown> {
    checkOpen(method);
    const argv = [evName(channel), randomBytes(12).toString('base64url'), o.positionTtlMs, ...args];
    try {
      return await evalScript(client, s, keys(channel), argv);
    } catch (error) {
      throw failure(method, channel, error);
    }
  }

  function notify(entry: Listening, event: ChannelEvent): void {
    for (const listener of [...entry.listeners]) {
      try {
        listener(event);
      } catch (error) {
        o.onError(error);
      }
    }
  }

  function deliver(ev: string, message: string): void {
    const entry = byEv.get(ev);
    if (entry === undefined || entry.listeners.size === 0) return;
    let event: ChannelEvent;
    try {
      const note = JSON.parse(message) as { t: string; e?: string; o?: number; a?: string; d?: string; i?: string; m?: string };
      if (note.t === 'p') {
        const publication: Publication =
          note.i === undefined
            ? { offset: note.o as number, data: note.d as string, publishedAt: Number(note.a) }
            : { offset: note.o as number, id: note.i, data: note.d as string, publishedAt: Number(note.a) };
        event = { type: 'publication', channel: entry.name, epoch: note.e as string, publication };
      } else {
        event = { type: note.t === 'j' ? 'join' : 'leave', channel: entry.name, member: JSON.parse(note.m as string) as PresenceMember };
      }
    } catch (error) {
      o.onError(new EngineUnavailableError(`redisEngine: an undecodable notification on ${ev}`, { cause: error }));
      return;
    }
    notify(entry, event);
  }

  /** Keep the listened channels' positions and expire their members (announced as leaves). */
  async function sweep(): Promise<void> {
    if (closed || sweeping || listening.size === 0) return;
    sweeping = true;
    try {
      for (const name of [...listening.keys()]) {
        if (closed) return;
        await run('sweep', scripts.keep, name, []);
      }
      sweepFailing = false;
    } catch (error) {
      // Reported once per outage, not once a second for each channel.
      if (!sweepFailing && !closed) o.onError(error);
      sweepFailing = true;
    } finally {
      sweeping = false;
    }
  }

  function toPublication(entry: unknown): Publication {
    const [streamId, kv] = entry as [string, string[]];
    const f: Record<string, string> = {};
    for (let i = 0; i < kv.length; i += 2) f[kv[i] as string] = kv[i + 1] as string;
    const offset = Number.parseInt(streamId, 10);
    const publishedAt = Number(f.a);
    return f.i === undefined ? { offset, data: f.d as string, publishedAt } : { offset, id: f.i, data: f.d as string, publishedAt };
  }

  async function read(method: string, name: string, since: number, limit: number): Promise<HistoryPage> {
    const [offset, epoch, entries] = (await run(method, scripts.read, name, [`${since + 1}-0`, limit])) as [number, string, unknown[]];
    return { publications: entries.map(toPublication), offset, epoch };
  }

  const state = redisSessionState(client, o.keyPrefix, checkOpen);

  const engine: RedisEngine = {
    sessions: state.sessions,
    pushes: state.pushes,
    nodes: state.nodes,

    async publish(name: string, data: string, options: PublishOptions): Promise<PublishResult> {
      checkOpen('publish');
      text('channel', name, MAX_CHANNEL_NAME);
      if (typeof data !== 'string') throw new TypeError('data must be a string (the payload, encoded)');
      if (typeof options !== 'object' || options === null) throw new TypeError('publish() needs { historySize, historyTtlMs }');
      const id = options.id === undefined ? undefined : text('id', options.id, MAX_ID);
      const historySize = integer('historySize', options.historySize, 0);
      const ttlMs = duration('historyTtlMs', options.historyTtlMs);
      const size = Buffer.byteLength(data) + (id === undefined ? 0 : Buffer.byteLength(id)) + ENTRY_OVERHEAD;
      if (historySize > 0 && size > o.maxHistoryBytes) {
        throw new ChannelLimitError('bytes', `a publication of ${size} bytes is larger than a channel history may hold (${o.maxHistoryBytes})`);
      }
      const [offset, epoch, duplicate] = (await run('publish', scripts.publish, name, [data, id ?? '', historySize, ttlMs, o.maxHistoryBytes, size])) as [number, string, number];
      return { offset, epoch, duplicate: duplicate === 1 };
    },

    async history(name: string, options: HistoryOptions): Promise<HistoryPage> {
      checkOpen('history');
      text('channel', name, MAX_CHANNEL_NAME);
      if (typeof options !== 'object' || options === null) throw new TypeError('history() needs { limit }');
      const since = options.since === undefined ? 0 : integer('since', options.since, 0);
      const limit = integer('limit', options.limit, 0);
      return read('history', name, since, limit);
    },

    async position(name: string): Promise<ChannelPosition> {
      checkOpen('position');
      text('channel', name, MAX_CHANNEL_NAME);
      const { offset, epoch } = await read('position', name, 0, 0);
      return { offset, epoch };
    },

    async listen(name: string, listener: ChannelListener): Promise<Unlisten> {
      checkOpen('listen');
      text('channel', name, MAX_CHANNEL_NAME);
      if (typeof listener !== 'function') throw new TypeError('listener must be a function');
      // Each call is its own registration, even for a listener already registered.
      const own: ChannelListener = (event) => listener(event);
      let entry = listening.get(name);
      if (entry === undefined) {
        const ev = evName(name);
        const created: Listening = { name, ev, listeners: new Set(), subscribed: subscriber.subscribe(ev) };
        entry = created;
        listening.set(name, created);
        byEv.set(ev, created);
      }
      entry.listeners.add(own);
      const mine = entry;
      const unlisten: Unlisten = async () => {
        if (!mine.listeners.delete(own) || mine.listeners.size > 0 || listening.get(name) !== mine) return;
        listening.delete(name);
        byEv.delete(mine.ev);
        if (!closed) await subscriber.unsubscribe(mine.ev).catch((error: unknown) => o.onError(error));
      };
      try {
        await mine.subscribed;
        // The position is kept from now on (the sweep keeps it while this node listens).
        await run('listen', scripts.keep, name, []);
      } catch (error) {
        await unlisten();
        throw error instanceof EngineUnavailableError || error instanceof ClosedError ? error : failure('listen', name, error);
      }
      return unlisten;
    },

    async presenceAdd(name: string, member: PresenceMember, ttlMs: number): Promise<void> {
      checkOpen('presenceAdd');
      text('channel', name, MAX_CHANNEL_NAME);
      if (typeof member !== 'object' || member === null) throw new TypeError('member must be { clientId, sessionId, identity? }');
      const clientId = text('member.clientId', member.clientId, MAX_ID);
      const sessionId = text('member.sessionId', member.sessionId, MAX_SESSION_ID);
      const ttl = duration('ttlMs', ttlMs);
      // Stored as given at join: a refresh does not change what `leave` will say.
      const stored: PresenceMember = member.identity === undefined ? { clientId, sessionId } : { clientId, sessionId, identity: member.identity };
      await run('presenceAdd', scripts.presenceAdd, name, [clientId, JSON.stringify(stored), ttl, o.maxMembers]);
    },

    async presenceRemove(name: string, clientId: string): Promise<void> {
      checkOpen('presenceRemove');
      text('channel', name, MAX_CHANNEL_NAME);
      text('clientId', clientId, MAX_ID);
      await run('presenceRemove', scripts.presenceRemove, name, [clientId]);
    },

    async presence(name: string): Promise<PresenceMember[]> {
      checkOpen('presence');
      text('channel', name, MAX_CHANNEL_NAME);
      const members = (await run('presence', scripts.presence, name, [])) as string[];
      return members.map((m) => JSON.parse(m) as PresenceMember);
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      listening.clear();
      byEv.clear();
      subscriber.disconnect();
      if (owned) client.disconnect();
      else client.off('error', onConnectionError);
    },

    get listenedCount() {
      return listening.size;
    },
  };
  return engine;
}
