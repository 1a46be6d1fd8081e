import { EventEmitter } from 'node:events';
import net, { type Socket } from 'node:net';
import { Pipe, type PipeMode } from './pipe.js';

export interface ProxyTarget {
  port: number;
  /** @default '127.0.0.1' */
  host?: string;
}

export interface FaultProxyOptions {
  /** Where connections are forwarded; change it later with `setTarget` (a restarted server). */
  target: ProxyTarget;
  /** Listen address. Loopback only by design. @default '127.0.0.1' */
  host?: string;
  /** @default 0 (an ephemeral port) */
  port?: number;
  /** Randomness for delay jitter, injectable for seeded runs. @default Math.random */
  random?: () => number;
}

interface Link {
  client: Socket;
  upstream: Socket;
  up: Pipe;
  down: Pipe;
}

/**
 * A TCP proxy that injects the faults Lifeline must survive: connections cut, a link that goes
 * silent with both sockets open (half-open), one-byte fragmentation, delay with jitter.
 * It speaks no WebSocket: it moves bytes, so every fault is one a real network can produce.
 */
export class FaultProxy extends EventEmitter<{ dropped: [bytes: number] }> {
  private readonly server: net.Server;
  private readonly links = new Set<Link>();
  private target: Required<ProxyTarget>;
  private readonly random: () => number;
  private readonly mode: PipeMode = { silent: false, held: false, fragmentBytes: 0, delayMs: 0, jitterMs: 0, bytesPerSecond: 0 };
  private refusing = false;
  /** Connections accepted since start. */
  accepted = 0;
  /** Connections cut by `cutAll`. */
  cuts = 0;

  /** Bytes dropped while silent. */
  dropped = 0;

  private constructor(options: FaultProxyOptions) {
    super();
    this.target = { host: options.target.host ?? '127.0.0.1', port: options.target.port };
    this.random = options.random ?? Math.random;
    this.server = net.createServer((client) => this.accept(client));
  }

  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const proxy = new FaultProxy(options);
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
        proxy.server.off('error', reject);
        resolve();
      });
    });
    return proxy;
  }

  get port(): number {
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('fault proxy is not listening');
    return address.port;
  }

  /** `ws://127.0.0.1:<port><path>` */
  url(path = ''): string {
    return `ws://127.0.0.1:${this.port}${path}`;
  }

  /** Open connections right now. */
  get connections(): number {
    return this.links.size;
  }

  /** Bytes forwarded client → server and server → client over all connections still open. */
  get bytes(): { up: number; down: number } {
    let up = 0;
    let down = 0;
    for (const link of this.links) {
      up += link.up.bytes;
      down += link.down.bytes;
    }
    return { up, down };
  }

  setTarget(target: ProxyTarget): void {
    this.target = { host: target.host ?? '127.0.0.1', port: target.port };
  }

  /** Destroy every open connection on both sides at once (a network cut). Returns how many. */
  cutAll(): number {
    const n = this.links.size;
    for (const link of [...this.links]) this.drop(link);
    this.cuts += n;
    return n;
  }

  /**
   * Drop every byte in both directions while keeping the sockets open: the half-open link that
   * makes a naive `recv()` hang. New connections are accepted and go nowhere. Bytes dropped
   * while silent are lost, so the streams of existing connections cannot recover: call
   * `cutAll()` when ending the spell, or let heartbeats find them.
   */
  silence(on = true): void {
    this.mode.silent = on;
  }

  /**
   * Stop forwarding in both directions on every connection, new ones too, without losing a byte:
   * reading pauses, so TCP backpressure bounds what waits. `hold(false)` (or `heal()`) forwards
   * everything that waited, in order: a peer that went silent for a while, then answers.
   */
  hold(on = true): void {
    this.mode.held = on;
    if (!on) for (const link of this.links) {
      link.up.release();
      link.down.release();
    }
  }

  /** Forward at most `bytes` bytes per write (1 = one byte at a time); 0 turns it off. */
  fragment(bytes: number): void {
    if (!Number.isInteger(bytes) || bytes < 0) throw new TypeError('fragment(bytes) takes a non-negative integer');
    this.mode.fragmentBytes = bytes;
  }

  /** Hold each chunk `ms` plus up to `jitterMs` before forwarding, order kept; 0 turns it off. */
  delay(ms: number, jitterMs = 0): void {
    if (!(ms >= 0) || !(jitterMs >= 0)) throw new TypeError('delay(ms, jitterMs) takes non-negative numbers');
    this.mode.delayMs = ms;
    this.mode.jitterMs = jitterMs;
  }

  /**
   * A slow link: each direction of every connection forwards at most `bytesPerSecond` (what the
   * proxy reads meanwhile waits in its memory, in order); 0 turns it off.
   */
  throttle(bytesPerSecond: number): void {
    if (!(bytesPerSecond >= 0) || !Number.isFinite(bytesPerSecond)) throw new TypeError('throttle(bytesPerSecond) takes a non-negative finite number');
    this.mode.bytesPerSecond = bytesPerSecond;
  }

  /** Refuse new connections (close them at once), as a server that is down would. */
  refuse(on = true): void {
    this.refusing = on;
  }

  /** Back to a clean link: no hold, silence, fragmentation, delay, throttle or refusal. Open connections stay. */
  heal(): void {
    this.hold(false);
    this.mode.silent = false;
    this.mode.fragmentBytes = 0;
    this.mode.delayMs = 0;
    this.mode.jitterMs = 0;
    this.mode.bytesPerSecond = 0;
    this.refusing = false;
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    this.accepted++;
    if (this.refusing) {
      client.destroy();
      return;
    }
    client.setNoDelay(true);
    const upstream = net.connect({ host: this.target.host, port: this.target.port });
    upstream.setNoDelay(true);
    const mode = () => this.mode;
    const onDrop = (bytes: number) => {
      this.dropped += bytes;
      this.emit('dropped', bytes);
    };
    const link: Link = {
      client,
      upstream,
      up: new Pipe(client, upstream, mode, this.random, onDrop),
      down: new Pipe(upstream, client, mode, this.random, onDrop),
    };
    this.links.add(link);
    const end = () => this.drop(link);
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  }

  private drop(link: Link): void {
    if (!this.links.delete(link)) return;
    link.client.destroy();
    link.upstream.destroy();
  }
}
