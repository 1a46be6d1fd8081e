/**
 * The server side of one peer, in its own process so the client's CPU and RSS are the client's
 * alone. argv[2]: JSON `{ peer, proxy }`. Reports `{ type: 'ready', port, proxyPort }` by IPC,
 * then answers: `block` (hold every answer), `release` (answer everything held, stop holding),
 * `cut-release` (cut every proxied connection, then release: the answers are lost with the
 * link and must be recovered by the client's replay), `bytes` (proxy byte counters), `cpu` (this process's `process.cpuUsage()`), `close`.
 */
import { PEERS } from './peers/index.mjs';
import { serveParent } from './spawn.mjs';

const { peer: key, proxy: withProxy = false } = JSON.parse(process.argv[2]);
const spec = PEERS.find((p) => p.key === key);
if (!spec) throw new Error(`unknown peer ${key}`);
const mod = await import(`./peers/${spec.module}`);
const server = await mod.serve(spec.options);

let proxy;
if (withProxy) {
  const { FaultProxy } = await import('@lifeline/fault-proxy');
  proxy = await FaultProxy.start({ target: { port: server.port, host: '127.0.0.1' } });
}

serveParent(
  {
    block: () => server.block(),
    release: () => server.release(),
    'cut-release': () => {
      const cut = proxy?.cutAll() ?? 0;
      server.release();
      return cut;
    },
    bytes: () => proxy?.bytes ?? { up: 0, down: 0 },
    cpu: () => process.cpuUsage(),
  },
  async () => {
    server.release();
    await proxy?.close();
    await server.close();
  },
);

process.send({ type: 'ready', port: server.port, proxyPort: proxy?.port });
