/**
 * Child processes with an IPC request/response channel and a hard deadline. Used by the
 * orchestrator (one client process per task) and by client processes (one server process each).
 */
import { fork } from 'node:child_process';
import { DeadlineError } from './deadline.mjs';

const STDERR_TAIL = 2_000;

/**
 * Forks `script` with `args`; resolves once the child sends `{ type: 'ready', ... }`.
 * The child is SIGKILLed if it is not ready within `readyMs`.
 */
export async function startChild(script, args, { readyMs = 10_000, execArgv = [], captureStderr = false } = {}) {
  const child = fork(script, args, {
    execArgv,
    stdio: ['ignore', 'inherit', captureStderr ? 'pipe' : 'inherit', 'ipc'],
    serialization: 'advanced',
  });
  const handle = new ChildHandle(child);
  if (captureStderr) {
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s) => {
      handle.stderr = (handle.stderr + s).slice(-STDERR_TAIL);
    });
  }
  try {
    handle.ready = await handle.waitFor((m) => m.type === 'ready', readyMs, `${script} start`);
  } catch (error) {
    handle.kill();
    throw error;
  }
  return handle;
}

export class ChildHandle {
  stderr = '';
  ready = undefined;
  #nextId = 1;
  #waiters = new Set();
  #exited;

  constructor(child) {
    this.child = child;
    this.#exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    child.on('message', (m) => {
      for (const w of this.#waiters) if (w.match(m)) w.resolve(m);
    });
    this.#exited.then(({ code, signal }) => {
      const error = new Error(`child exited (code ${code}, signal ${signal})${this.stderr ? `: ${this.stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`);
      for (const w of this.#waiters) w.reject(error);
    });
    // An IPC error (child gone) must not crash the parent.
    child.on('error', () => {});
  }

  get exited() {
    return this.#exited;
  }

  /** The next message matching `match`, within `ms`. */
  waitFor(match, ms, what) {
    return new Promise((resolve, reject) => {
      const w = {
        match,
        resolve: (m) => done(() => resolve(m)),
        reject: (e) => done(() => reject(e)),
      };
      const timer = setTimeout(() => w.reject(new DeadlineError(what, ms)), ms);
      const done = (settle) => {
        clearTimeout(timer);
        this.#waiters.delete(w);
        settle();
      };
      this.#waiters.add(w);
    });
  }

  /** Sends `{ id, cmd, ...args }` and resolves with the child's `{ type: 'reply', id, value }`. */
  request(cmd, args = {}, ms = 10_000) {
    const id = this.#nextId++;
    const reply = this.waitFor((m) => m.type === 'reply' && m.id === id, ms, `child command ${cmd}`);
    this.child.send({ id, cmd, ...args });
    return reply.then((m) => {
      if (m.error) throw new Error(m.error);
      return m.value;
    });
  }

  /** Asks the child to close and exit; kills it if it has not exited within `ms`. */
  async close(ms = 5_000) {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    try {
      this.child.send({ id: 0, cmd: 'close' });
    } catch {
      // channel already closed
    }
    const timer = setTimeout(() => this.kill(), ms);
    await this.#exited;
    clearTimeout(timer);
  }

  kill() {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/**
 * Child side: answer `request()`s with `handlers[cmd](args)`; exit when the parent goes away.
 * `onClose` runs for the `close` command (and on disconnect), then the process exits.
 */
export function serveParent(handlers, onClose) {
  let closing = false;
  const shutdown = async () => {
    if (closing) return;
    closing = true;
    const hard = setTimeout(() => process.exit(1), 5_000);
    hard.unref();
    try {
      await onClose();
    } finally {
      process.exit(0);
    }
  };
  process.on('disconnect', shutdown);
  process.on('message', async (m) => {
    if (m.cmd === 'close') return shutdown();
    const handler = handlers[m.cmd];
    try {
      if (!handler) throw new Error(`unknown command ${m.cmd}`);
      const value = await handler(m);
      process.send?.({ type: 'reply', id: m.id, value });
    } catch (error) {
      process.send?.({ type: 'reply', id: m.id, error: error?.message ?? String(error) });
    }
  });
}
