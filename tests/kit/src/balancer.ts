import net, { type Socket } from 'node:net';
import { onCleanup } from './cleanup.js';

interface Link {
  readonly client: Socket;
  readonly upstream: Socket;
  readonly port: number;
}

/**
 * A round-robin TCP balancer on 127.0.0.1 (what nginx or HAProxy do without stickiness): each new
 * connection goes to the next live node. A node that refuses the connection is skipped for that
 * connection (at most one try per node), as a proxy with passive health checks does. It moves
 * bytes only; a node that dies takes its connections with it.
 */
export class Balancer {
  private readonly server: net.Server;
  private readonly links = new Set<Link>();
  private nodes: number[] = [];
  private turn = 0;
  /** Connections accepted since start. */
  accepted = 0;

  private constructor(ports: readonly number[]) {
    this.nodes = [...ports];
    this.server = net.createServer((client) => this.accept(client));
  }

  static async start(ports: readonly number[] = []): Promise<Balancer> {
    const balancer = new Balancer(ports);
    await new Promise<void>((resolve, reject) => {
      balancer.server.once('error', reject);
      balancer.server.listen(0, '127.0.0.1', () => resolve());
    });
    return balancer;
  }

  get port(): number {
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('balancer is not listening');
    return address.port;
  }

  /** `ws://127.0.0.1:<port>` */
  url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** The node ports new connections go to, in turn. */
  get members(): readonly number[] {
    return this.nodes;
  }

  add(port: number): void {
    if (!this.nodes.includes(port)) this.nodes.push(port);
  }

  /** No new connections to `port`; its open ones stay (a drain). */
  remove(port: number): void {
    this.nodes = this.nodes.filter((p) => p !== port);
  }

  /** The node port of every open connection, in accept order. */
  upstreams(): number[] {
    return [...this.links].map((link) => link.port);
  }

  /** Destroy every open connection (both sides). Returns how many. */
  cutAll(): number {
    const n = this.links.size;
    for (const link of [...this.links]) this.drop(link);
    return n;
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket, tried = 0): void {
    if (tried === 0) this.accepted++;
    client.on('error', () => {});
    if (this.nodes.length === 0 || tried >= this.nodes.length) {
      client.destroy();
      return;
    }
    const port = this.nodes[this.turn++ % this.nodes.length] as number;
    client.pause();
    const upstream = net.connect({ host: '127.0.0.1', port });
    upstream.setNoDelay(true);
    const refused = () => {
      upstream.destroy();
      if (!client.destroyed) this.accept(client, tried + 1);
    };
    upstream.once('error', refused);
    upstream.once('connect', () => {
      upstream.off('error', refused);
      if (client.destroyed) {
        upstream.destroy();
        return;
      }
      client.setNoDelay(true);
      const link: Link = { client, upstream, port };
      this.links.add(link);
      const end = () => this.drop(link);
      client.on('close', end);
      upstream.on('error', end).on('close', end);
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
  }

  private drop(link: Link): void {
    if (!this.links.delete(link)) return;
    link.client.destroy();
    link.upstream.destroy();
  }
}

/** A balancer in front of `ports`; `closeAll` closes it. */
export async function startBalancer(ports: readonly number[] = []): Promise<Balancer> {
  const balancer = await Balancer.start(ports);
  onCleanup(() => balancer.close());
  return balancer;
}
