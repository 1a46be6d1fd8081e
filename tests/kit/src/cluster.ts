import type { Redis } from 'ioredis';
import { startBalancer, type Balancer } from './balancer.js';
import { startNode, type LifelineNode, type NodeConfig } from './nodes.js';

/**
 * Lifeline nodes (child processes) on one Redis behind a round-robin balancer, and what their
 * handlers recorded. Node names are n1, n2, … in start order; replacements get the next name.
 */
export interface Cluster {
  readonly balancer: Balancer;
  /** Nodes behind the balancer, live ones (killed and stopped ones are dropped). */
  readonly nodes: LifelineNode[];
  /** Every node ever started, for the crash check. */
  readonly all: LifelineNode[];
  /** Start one more node with the cluster's config, behind the balancer unless `behind` is false. */
  add(behind?: boolean): Promise<LifelineNode>;
  /** SIGKILL `node` (out of the balancer first, as its health check would find), then start its replacement. */
  killAndReplace(node: LifelineNode): Promise<LifelineNode>;
  /** Rolling restart step: out of the balancer, SIGTERM (server.close()), replacement in. Resolves with the old node's exit code and the new node. */
  restart(node: LifelineNode): Promise<{ code: number | null; next: LifelineNode }>;
  /** The node behind the balancer that serves the oldest open connection through it. */
  nodeOf(connection: number): LifelineNode | undefined;
  /** Per id: handler calls not flagged, and flagged `ctx.redelivered`. */
  records(): Promise<Map<string, { handled: number; redelivered: number }>>;
  /** Crash reports of every node ever started. */
  crashes(): string[];
}

export async function startCluster(n: number, config: NodeConfig, admin: Redis): Promise<Cluster> {
  const balancer = await startBalancer();
  const nodes: LifelineNode[] = [];
  const all: LifelineNode[] = [];
  let named = 0;
  const add = async (behind = true) => {
    const node = await startNode(`n${++named}`, config);
    all.push(node);
    if (behind) {
      nodes.push(node);
      balancer.add(node.port);
    }
    return node;
  };
  const out = (node: LifelineNode) => {
    balancer.remove(node.port);
    const i = nodes.indexOf(node);
    if (i >= 0) nodes.splice(i, 1);
  };
  await Promise.all(Array.from({ length: n }, () => add()));
  return {
    balancer,
    nodes,
    all,
    add,
    async killAndReplace(node) {
      await node.kill();
      out(node);
      return add();
    },
    async restart(node) {
      const next = await add();
      out(node);
      const code = await node.terminate();
      return { code, next };
    },
    nodeOf(connection) {
      const port = balancer.upstreams()[connection];
      return nodes.find((node) => node.port === port);
    },
    async records() {
      const [handled, redelivered] = await Promise.all([admin.hgetall(`${config.recordPrefix}handled`), admin.hgetall(`${config.recordPrefix}redelivered`)]);
      const map = new Map<string, { handled: number; redelivered: number }>();
      for (const [id, count] of Object.entries(handled)) map.set(id, { handled: Number(count), redelivered: 0 });
      for (const [id, count] of Object.entries(redelivered)) {
        const entry = map.get(id) ?? { handled: 0, redelivered: 0 };
        entry.redelivered = Number(count);
        map.set(id, entry);
      }
      return map;
    },
    crashes() {
      return all.flatMap((node) => node.crashes.map((c) => `${node.name}: ${c}`));
    },
  };
}
