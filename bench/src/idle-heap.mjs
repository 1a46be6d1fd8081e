/**
 * Server heap per held idle connection (issue 14), for the CI guard: `count` clients from a child
 * process against a server child (`connections/server.mjs`), heap after a full GC before and after
 * they connect. Heap, not RSS: RSS moves by hundreds of bytes a connection from run to run (V8's
 * young generation, malloc), the heap by a few.
 */
import { fileURLToPath } from 'node:url';
import { startChild } from './spawn.mjs';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

/** Bytes of server heap per connection of `peer` ('lifeline' or 'ws') with `count` connections. */
export async function idleHeapPerConnection(peer, count, deadlineMs) {
  const server = await startChild(here('./connections/server.mjs'), [JSON.stringify({ peer, port: 0 })], { execArgv: ['--expose-gc'] });
  let clients;
  try {
    const before = await server.request('mem', {}, deadlineMs);
    clients = await startChild(here('./connections/clients.mjs'), [JSON.stringify({ peer, port: server.ready.port, count, atOnce: 100 })], { readyMs: deadlineMs });
    const after = await server.request('mem', {}, deadlineMs);
    return (after.heap - before.heap) / count;
  } finally {
    await clients?.close();
    await server.close();
  }
}
