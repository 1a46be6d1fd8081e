/**
 * Idle connections held against a server child (`connections/server.mjs`) by a client child
 * (`connections/clients.mjs`), with the server's memory after a full GC before and after they
 * connect: the start of the connections benchmark, and the CI guard's idle-heap gate (issue 14).
 */
import { fileURLToPath } from 'node:url';
import { startChild } from './spawn.mjs';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

/**
 * Open `count` connections of `peer` ('lifeline' or 'ws'), `atOnce` at a time. Resolves with both
 * children and the server's `mem` before and after; the caller closes them. `serverHeapMb` /
 * `clientHeapMb`: each child's `--max-old-space-size`, for 18,000 connections. `serverArgs`: more
 * of the server child's argument (`redisUrl`, `keyPrefix`).
 */
export async function holdConnections(peer, count, { atOnce = 100, readyMs = 60_000, serverHeapMb, clientHeapMb, serverArgs = {} } = {}) {
  const heap = (mb) => (mb === undefined ? [] : [`--max-old-space-size=${mb}`]);
  const server = await startChild(here('./connections/server.mjs'), [JSON.stringify({ ...serverArgs, peer, port: 0 })], { execArgv: ['--expose-gc', ...heap(serverHeapMb)] });
  let clients;
  try {
    const before = await server.request('mem', {}, 60_000);
    clients = await startChild(here('./connections/clients.mjs'), [JSON.stringify({ peer, port: server.ready.port, count, atOnce })], {
      readyMs,
      execArgv: heap(clientHeapMb),
    });
    const after = await server.request('mem', {}, 60_000);
    return { server, clients, before, after };
  } catch (error) {
    await clients?.close();
    await server.close();
    throw error;
  }
}

/**
 * Bytes of server heap per idle connection of `peer`. Heap, not RSS: RSS moves by hundreds of
 * bytes a connection from run to run (V8's young generation, malloc), the heap by a few.
 */
export async function idleHeapPerConnection(peer, count, readyMs) {
  const { server, clients, before, after } = await holdConnections(peer, count, { readyMs });
  await clients.close();
  await server.close();
  return (after.heap - before.heap) / count;
}
