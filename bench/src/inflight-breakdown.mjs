/**
 * What a message waiting for its answer holds on the client's heap, by kind of object (issue 14:
 * at most 400 B per message in flight). The server runs in a child process and holds every answer
 * (`block`), so the heap measured is the client's alone, as in `npm run bench`'s in-flight task;
 * the client fires `n` sends the way the bench does (`send(PAYLOAD).then(ack, fail)`), and two
 * heap snapshots, before and after, are compared by V8's node type and constructor name.
 * A diagnostic, not part of `npm run bench`:
 *   node --expose-gc bench/src/inflight-breakdown.mjs [peer=lifeline] [n=10000]
 * Prints bytes and objects per message for every kind that grew by more than 2 B per message.
 */
import { readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeHeapSnapshot } from 'node:v8';
import { PEERS } from './peers/index.mjs';
import { startChild } from './spawn.mjs';
import { withDeadline } from './deadline.mjs';
import { fillInFlight } from './measure.mjs';

const key = process.argv[2] ?? 'lifeline';
const n = Number(process.argv[3] ?? 10_000);
const DEADLINE_MS = 60_000;
const spec = PEERS.find((p) => p.key === key && p.memory === true && p.server !== false);
if (spec === undefined || !(n > 0)) {
  const keys = PEERS.filter((p) => p.memory === true && p.server !== false).map((p) => p.key);
  throw new Error(`usage: inflight-breakdown.mjs [${keys.join('|')}] [n > 0]`);
}
if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc');

/** Self size and count per (node type, name) of a heap snapshot; strings by their length. */
function kinds(file) {
  const { snapshot, nodes, strings } = JSON.parse(readFileSync(file, 'utf8'));
  const fields = snapshot.meta.node_fields;
  const types = snapshot.meta.node_types[0];
  const [TYPE, NAME, SIZE] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const byKind = new Map();
  for (let i = 0; i < nodes.length; i += fields.length) {
    const type = types[nodes[i + TYPE]];
    const name = strings[nodes[i + NAME]];
    const kind = type.endsWith('string') ? `${type} of ${name.length} chars` : `${type} ${name.slice(0, 60)}`;
    const k = byKind.get(kind) ?? { count: 0, bytes: 0 };
    k.count++;
    k.bytes += nodes[i + SIZE];
    byKind.set(kind, k);
  }
  return byKind;
}

const dir = mkdtempSync(join(tmpdir(), 'lifeline-inflight-'));
const server = await startChild(fileURLToPath(new URL('./server-child.mjs', import.meta.url)), [JSON.stringify({ peer: key })]);
const mod = await import(`./peers/${spec.module}`);
let peer;
try {
  await server.request('block', {}, 5_000);
  peer = await mod.connect({ port: server.ready.port, options: spec.options ?? {}, mode: 'memory' });
  peer.onAck = () => {};
  peer.onError = () => {};
  gc();
  gc();
  const before = writeHeapSnapshot(join(dir, 'before.heapsnapshot'));
  await fillInFlight(peer, n, DEADLINE_MS);
  gc();
  gc();
  const after = writeHeapSnapshot(join(dir, 'after.heapsnapshot'));
  const [a, b] = [kinds(before), kinds(after)];
  const rows = [];
  for (const [kind, k] of b) {
    const was = a.get(kind) ?? { count: 0, bytes: 0 };
    if (Math.abs(k.bytes - was.bytes) > 2 * n) rows.push({ kind, bytes: (k.bytes - was.bytes) / n, count: (k.count - was.count) / n });
  }
  rows.sort((x, y) => y.bytes - x.bytes);
  for (const r of rows) console.log(`${r.bytes.toFixed(1).padStart(7)} B ${r.count.toFixed(2).padStart(6)} objects  ${r.kind}`);
  console.log(`${rows.reduce((s, r) => s + r.bytes, 0).toFixed(1).padStart(7)} B per message in flight (${key}, ${n.toLocaleString('en-US')} messages)`);
} finally {
  if (peer !== undefined) await withDeadline(Promise.resolve(peer.close()), 5_000, 'close').catch(() => {});
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}
