import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { afterEach, describe, expect, it } from 'vitest';
import { ClosedError, OutboxStoreError, webStorageOutbox, type OutboxStore, type RestoredOutcome, type StorageLike, type StoredMessage } from '@lifeline/sdk';
import { fileOutbox } from '@lifeline/sdk/file-outbox';
import { client, closeAll, gate, nextEvent, startProxy, startServer, until } from '@lifeline/test-kit';
import { lifelineSources } from '../../../vitest.shared.js';

const dirs: string[] = [];
afterEach(async () => {
  await closeAll();
  while (dirs.length > 0) rmSync(dirs.pop() as string, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-durable-'));
  dirs.push(dir);
  return dir;
}

/** A server whose handler records each call's id and answers `{ ok: data.n }`. */
async function recordingServer() {
  const handled: string[] = [];
  const server = await startServer({
    handler: (data, ctx) => {
      handled.push(ctx.id);
      return { ok: (data as { n: number }).n };
    },
  });
  return { server, handled };
}

describe('guarantee 8: the durable outbox survives a restart', () => {
  it('sends on the next start what a closed client had not got acked, once each and first, then forgets it', async () => {
    const path = join(tempDir(), 'outbox.log');
    const { server, handled } = await recordingServer();
    const proxy = await startProxy(server.port);

    const first = client(proxy.url(), { outbox: fileOutbox(path) });
    await first.connect({ timeoutMs: 5_000 });
    expect(await first.send({ n: 0 }, { id: 'acked-in-run-1' })).toEqual({ ok: 0 });
    proxy.refuse();
    proxy.cutAll(); // the server is unreachable from here on
    const pending = [1, 2, 3].map((n) => first.send({ n }, { id: `order-${n}`, timeoutMs: 60_000 }).catch((e: unknown) => e));
    await first.close({ timeoutMs: 1_000 });
    for (const outcome of await Promise.all(pending)) expect(outcome).toBeInstanceOf(ClosedError);

    const second = client(proxy.url(), { outbox: fileOutbox(path) });
    const restored: string[][] = [];
    const settled: RestoredOutcome[] = [];
    second.on('restored', (info) => restored.push([...info.ids]));
    second.on('restored-settled', (outcome) => settled.push(outcome));
    const fresh = second.send({ n: 4 }, { id: 'order-4' }); // queued before connect(): after the restored ones
    proxy.refuse(false);
    await second.connect({ timeoutMs: 5_000 });
    expect(await fresh).toEqual({ ok: 4 });
    await until(second, 'restored-settled', () => settled.length === 3);

    expect(restored).toEqual([['order-1', 'order-2', 'order-3']]);
    expect(settled).toEqual([1, 2, 3].map((n) => ({ id: `order-${n}`, result: { ok: n } })));
    expect(handled).toEqual(['acked-in-run-1', 'order-1', 'order-2', 'order-3', 'order-4']);
    await second.close({ timeoutMs: 1_000 });
    expect(fileOutbox(path).load()).toEqual([]);
  });

  it('sends what a process killed with SIGKILL had queued (a real crash, in a child process)', async () => {
    const dir = tempDir();
    const path = join(dir, 'outbox.log');
    const { server, handled } = await recordingServer();
    const proxy = await startProxy(server.port);
    proxy.refuse(); // the crashing run never reaches the server

    const script = join(dir, 'crashing-client.mjs');
    writeFileSync(script, await bundleCrashingClient());
    const child = fork(script, [proxy.url(), path], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    await Promise.race([
      nextEvent(child, 'message', 10_000).catch(() => {
        throw new Error('the child did not report its sends within 10 s');
      }),
      exited.then((signal) => {
        throw new Error(`the child exited early (${String(signal ?? child.exitCode)})`);
      }),
    ]);
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    proxy.refuse(false);
    const restarted = client(proxy.url(), { outbox: fileOutbox(path) });
    const settled: RestoredOutcome[] = [];
    restarted.on('restored-settled', (outcome) => settled.push(outcome));
    await restarted.connect({ timeoutMs: 5_000 });
    await until(restarted, 'restored-settled', () => settled.length === 5);
    expect(settled.map((s) => [s.id, s.result])).toEqual([1, 2, 3, 4, 5].map((n) => [`crash-${n}`, { ok: n }]));
    expect(handled).toEqual([1, 2, 3, 4, 5].map((n) => `crash-${n}`));
  });
});

/** An OutboxStore in memory that records what the client asks of it. */
function spyStore(initial: StoredMessage[] = []) {
  const kept = [...initial];
  const calls: string[] = [];
  const store: OutboxStore = {
    load: () => {
      calls.push('load');
      return [...kept];
    },
    add: (m) => {
      calls.push(`add ${m.id}`);
      kept.push(m);
    },
    remove: (ids) => {
      calls.push(`remove ${ids.join(',')}`);
      for (const id of ids) kept.splice(kept.findIndex((m) => m.id === id), 1);
    },
  };
  return { store, kept, calls };
}

describe('the durable outbox keeps a message until its outcome is known', () => {
  it('forgets acked, remotely failed, timed-out and aborted messages; keeps those pending at close', async () => {
    // The server handles one message at a time: each held one has its own gate, opened once its
    // send() has failed, so the next can reach the handler.
    const holds = new Map(['late', 'aborted', 'pending'].map((id) => [id, gate()]));
    const pendingArrived = gate();
    const server = await startServer({
      handler: async (data, ctx) => {
        const { kind } = data as { kind: string };
        if (kind === 'throw') throw new Error('refused by the handler');
        if (ctx.id === 'pending') pendingArrived.open();
        if (kind === 'hold') await holds.get(ctx.id)?.promise;
        return kind;
      },
    });
    const { store, kept, calls } = spyStore();
    const c = client(`ws://127.0.0.1:${server.port}`, { outbox: store });
    await c.connect({ timeoutMs: 5_000 });
    expect(await c.send({ kind: 'ok' }, { id: 'ok' })).toBe('ok');
    await expect(c.send({ kind: 'throw' }, { id: 'throw' })).rejects.toMatchObject({ code: 'ERR_REMOTE' });
    await expect(c.send({ kind: 'hold' }, { id: 'late', timeoutMs: 50 })).rejects.toMatchObject({ code: 'ERR_ACK_TIMEOUT' });
    holds.get('late')?.open();
    const abort = new AbortController();
    const aborted = c.send({ kind: 'hold' }, { id: 'aborted', signal: abort.signal });
    abort.abort();
    await expect(aborted).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    holds.get('aborted')?.open();
    const pending = c.send({ kind: 'hold' }, { id: 'pending' }).catch((e: unknown) => e);
    await pendingArrived.promise; // in flight, handled, not acked: its outcome is unknown
    await c.close({ timeoutMs: 1_000 });
    expect(await pending).toBeInstanceOf(ClosedError);
    holds.get('pending')?.open();
    expect(kept.map((m) => m.id)).toEqual(['pending']);
    expect(calls.filter((call) => call.startsWith('add'))).toEqual(['add ok', 'add throw', 'add late', 'add aborted', 'add pending']);
    expect(calls.filter((call) => call === 'load')).toHaveLength(1);
    expect(calls[0]).toBe('load'); // by the first connect(), before anything was sent
  });

  it('rejects send() with OutboxStoreError and queues nothing when the store cannot keep it', async () => {
    const storage: StorageLike = {
      length: 0,
      key: () => null,
      getItem: () => null,
      setItem: () => {
        throw new DOMException('quota exceeded', 'QuotaExceededError');
      },
      removeItem: () => {},
    };
    const c = client('ws://127.0.0.1:9', { outbox: webStorageOutbox({ storage }) });
    const error = await c.send({ n: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutboxStoreError);
    expect((error as OutboxStoreError).cause).toMatchObject({ name: 'QuotaExceededError' });
    expect(c.pending).toBe(0);
  });

  it('rejects connect() with OutboxStoreError when the store cannot load, and loads again on the next connect()', async () => {
    const { server, handled } = await recordingServer();
    let failures = 1;
    const { store } = spyStore([{ id: 'left-over', data: '{"n":7}' }]);
    const flaky: OutboxStore = {
      ...store,
      load: () => (failures-- > 0 ? Promise.reject(new Error('storage busy')) : store.load()),
    };
    const c = client(`ws://127.0.0.1:${server.port}`, { outbox: flaky });
    await expect(c.connect({ timeoutMs: 5_000 })).rejects.toMatchObject({ code: 'ERR_OUTBOX_STORE', cause: { message: 'storage busy' } });
    expect(c.state).toBe('idle');
    const settled: RestoredOutcome[] = [];
    c.on('restored-settled', (o) => settled.push(o));
    await c.connect({ timeoutMs: 5_000 });
    await until(c, 'restored-settled', () => settled.length === 1);
    expect(settled).toEqual([{ id: 'left-over', result: { ok: 7 } }]);
    expect(handled).toEqual(['left-over']);
  });

  it('times a restored message out after ackTimeoutMs, reports it, then forgets it', async () => {
    const server = await startServer({ handler: () => new Promise(() => {}) }); // never answers
    const { store, kept } = spyStore([{ id: 'stuck', data: '1' }]);
    // The timeout must outlast the connect, or the message times out unsent (maybeDelivered
    // false): 100 ms did not, once, in a fresh clone's full `npm test`.
    const c = client(`ws://127.0.0.1:${server.port}`, { outbox: store, ackTimeoutMs: 1_000 });
    const settled: RestoredOutcome[] = [];
    c.on('restored-settled', (o) => settled.push(o));
    await c.connect({ timeoutMs: 5_000 });
    await until(c, 'restored-settled', () => settled.length === 1);
    expect(settled[0]?.error).toMatchObject({ code: 'ERR_ACK_TIMEOUT', maybeDelivered: true });
    await Promise.resolve();
    expect(kept).toEqual([]);
  });
});

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * The child: a client with a file outbox that queues five sends it cannot deliver, tells the
 * parent, and waits to be killed. Bundled from source with esbuild (tests run without a build).
 */
async function bundleCrashingClient(): Promise<string> {
  const source = `
    import WebSocket from 'ws';
    import { createClient } from '@lifeline/sdk';
    import { fileOutbox } from '@lifeline/sdk/file-outbox';
    const [url, path] = process.argv.slice(2);
    const c = createClient({ url, WebSocket, outbox: fileOutbox(path), reconnect: { minDelayMs: 5, maxDelayMs: 20 } });
    c.on('error', () => {});
    c.connect({ timeoutMs: 60_000 }).catch(() => {});
    for (let n = 1; n <= 5; n++) c.send({ n }, { id: 'crash-' + n, timeoutMs: 60_000 }).catch(() => {});
    process.send('queued');
    setTimeout(() => process.exit(3), 30_000); // bounded, should the parent not kill it
  `;
  const result = await esbuild.build({
    stdin: { contents: source, resolveDir: ROOT, loader: 'js' },
    bundle: true,
    write: false,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // ws requires these optional add-ons inside try/catch; left out, it uses its JS fallbacks.
    external: ['bufferutil', 'utf-8-validate'],
    // ws is CommonJS: its require() of Node built-ins needs a real require in an ESM bundle.
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    plugins: [lifelineSources],
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}
