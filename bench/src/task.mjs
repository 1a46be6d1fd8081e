/** One measuring task in a client process of its own (client-child.mjs), under a hard deadline. */
import { fileURLToPath } from 'node:url';
import { startChild } from './spawn.mjs';

const clientScript = fileURLToPath(new URL('./client-child.mjs', import.meta.url));

/** Resolves with the task's result, or `{ error }` when it failed or missed `taskMs`. */
export async function runTask(peer, task, params, taskMs) {
  let child;
  try {
    child = await startChild(clientScript, [JSON.stringify({ peer, task, params })], { execArgv: ['--expose-gc'], captureStderr: true });
    const message = await child.waitFor((m) => m.type === 'result', taskMs, `${peer} ${task}`);
    return message.result;
  } catch (error) {
    // Missed deadline or crash: kill the client now; its server exits when the IPC channel closes.
    child?.kill();
    return { error: error?.message ?? String(error) };
  } finally {
    if (child) {
      const timer = setTimeout(() => child.kill(), 5_000);
      await child.exited;
      clearTimeout(timer);
    }
  }
}
