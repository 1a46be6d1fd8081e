import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { onCleanup } from './cleanup.js';
import type { NodeConfig, ToChild, ToParent } from './node-protocol.js';

export type { NodeConfig } from './node-protocol.js';

// Resolved when first used, not at import: the kit is imported by tests in browser-like
// environments (happy-dom) too, where import.meta.url is not a file URL.
const root = (): string => fileURLToPath(new URL('../../../', import.meta.url));
const entry = (): string => fileURLToPath(new URL('./node-child.ts', import.meta.url));
/** What a node may keep of its stderr and its error reports, for a failure message. */
const KEEP_CHARS = 8_192;

let bundled: Promise<string> | undefined;

/** The node child bundled from source once per test process (tests run without a build). */
function script(): Promise<string> {
  bundled ??= (async () => {
    // Loaded here, not at import: most users of the kit never start a node.
    const esbuild = await import('esbuild');
    const { lifelineSources } = await import('../../../vitest.shared.js');
    const file = path.join(os.tmpdir(), `lifeline-node-${process.pid}-${randomBytes(4).toString('hex')}.mjs`);
    await esbuild.build({
      entryPoints: [entry()],
      absWorkingDir: root(),
      outfile: file,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      // ws requires these optional add-ons inside try/catch; left out, it uses its JS fallbacks.
      external: ['bufferutil', 'utf-8-validate'],
      // ws and ioredis are CommonJS: their require() of Node built-ins needs a real require.
      banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
      plugins: [lifelineSources],
      logLevel: 'silent',
    });
    process.once('exit', () => fs.rmSync(file, { force: true }));
    return file;
  })();
  return bundled;
}

/** A Lifeline node in a child process (tests/kit/src/node-child.ts). */
export class LifelineNode {
  port = 0;
  /** Every engine or server error and crash it reported, newest last (bounded). */
  readonly reports: string[] = [];
  private stderr = '';
  private nextRef = 0;
  private readonly pending = new Map<number, { resolve: (r: { offset: number; epoch: string }) => void; reject: (e: Error) => void }>();
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-KEEP_CHARS);
    });
    child.on('message', (m: ToParent) => this.onMessage(m));
    void this.exited.then(() => {
      for (const p of this.pending.values()) p.reject(new Error(`node ${name} exited`));
      this.pending.clear();
    });
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Crashes (uncaught exceptions, exit code 70/71) it reported. */
  get crashes(): string[] {
    return this.reports.filter((r) => r.startsWith('crash'));
  }

  /** What it wrote to stderr lately, for a failure message. */
  get log(): string {
    return this.stderr;
  }

  private onMessage(m: ToParent): void {
    switch (m.t) {
      case 'published':
      case 'publish-failed': {
        const p = this.pending.get(m.ref);
        this.pending.delete(m.ref);
        if (m.t === 'published') p?.resolve({ offset: m.offset, epoch: m.epoch });
        else p?.reject(new Error(m.message));
        return;
      }
      case 'ready':
        return;
      default:
        this.reports.push(`${m.t}: ${m.message}`);
        if (this.reports.length > 200) this.reports.splice(0, 100);
    }
  }

  /** `server.publish(ch, data, { id })` on this node; rejects after `timeoutMs`. */
  publish(ch: string, data: unknown, id: string, timeoutMs = 5_000): Promise<{ offset: number; epoch: string }> {
    if (!this.alive || !this.child.connected) return Promise.reject(new Error(`node ${this.name} is not running`));
    const ref = ++this.nextRef;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        reject(new Error(`publish ${id} on node ${this.name}: no answer in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(ref, {
        resolve: (r) => (clearTimeout(timer), resolve(r)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.child.send({ t: 'publish', ref, ch, data, id } satisfies ToChild);
    });
  }

  /** SIGKILL: the node dies at once, mid-whatever. */
  async kill(): Promise<void> {
    if (this.alive) this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM: `server.close()`, then exit; SIGKILL if it overruns `timeoutMs`. Resolves with the exit code. */
  async terminate(timeoutMs = 10_000): Promise<number | null> {
    if (this.alive) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const { code } = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

/** Start a node child and wait (bounded) until it listens; `closeAll` kills it. */
export async function startNode(name: string, config: NodeConfig, timeoutMs = 15_000): Promise<LifelineNode> {
  const file = await script();
  const child = fork(file, [JSON.stringify(config)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], cwd: root() });
  const node = new LifelineNode(name, child);
  onCleanup(() => node.kill());
  const ready = await new Promise<ToParent | Error>((resolve) => {
    const timer = setTimeout(() => resolve(new Error(`node ${name} not ready in ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (m: ToParent) => {
      if (m.t !== 'ready' && m.t !== 'crash') return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(m);
    };
    child.on('message', onMessage);
    void node.exited.then(({ code, signal }) => resolve(new Error(`node ${name} exited (${code ?? signal}) before it was ready`)));
  });
  if (ready instanceof Error || ready.t !== 'ready') {
    await node.kill();
    const why = ready instanceof Error ? ready.message : ready.t === 'crash' ? ready.message : '';
    throw new Error(`${why}\n${node.log}`);
  }
  node.port = ready.port;
  return node;
}
