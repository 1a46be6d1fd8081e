import type { Redis } from 'ioredis';
import { evalScript, type Script } from './lua.js';

/** Most calls in one pipeline: bounds one write to Redis, and its reply, in size. */
export const MAX_PIPELINED = 256;

interface Call {
  readonly keys: readonly string[];
  readonly args: readonly (string | number)[];
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Calls of one script made in the same turn go to Redis as one pipeline, one socket write for
 * all of them: ioredis writes each lone command with a system call of its own. The touch sweep
 * refreshes up to 64 sessions at once, every 10 s, for every session a node holds (issue 14).
 *
 * ioredis's `enableAutoPipelining` does this for a whole client. It is not used because it would
 * hold every other command of the engine to the end of its turn too, and it cannot be set on a
 * client the application passes in. Each call keeps the client's `commandTimeout` (ioredis sets
 * it on every command of a pipeline), and a call that finds the script cache empty (a restarted
 * Redis) goes again alone through `evalScript`, which loads it.
 */
export function pipelined(client: Redis, s: Script): (keys: readonly string[], args: readonly (string | number)[]) => Promise<unknown> {
  let calls: Call[] = [];

  function flush(): void {
    if (calls.length === 0) return;
    const batch = calls;
    calls = [];
    // Built inside an executor: what it throws rejects the batch's calls, where thrown in a
    // microtask it would end the process.
    new Promise<[Error | null, unknown][] | null>((sent) => {
      const pipeline = client.pipeline();
      for (const c of batch) pipeline.evalsha(s.sha, c.keys.length, ...c.keys, ...c.args);
      sent(pipeline.exec());
    }).then(
      (replies) => {
        for (let i = 0; i < batch.length; i++) {
          const c = batch[i] as Call;
          const [error, value] = replies?.[i] ?? [new Error('Redis gave no reply to a pipelined call')];
          if (error === null) c.resolve(value);
          else if (error.message.startsWith('NOSCRIPT')) evalScript(client, s, c.keys, c.args).then(c.resolve, c.reject);
          else c.reject(error);
        }
      },
      (error: unknown) => {
        for (const c of batch) c.reject(error);
      },
    );
  }

  return (keys, args) =>
    new Promise((resolve, reject) => {
      const n = calls.push({ keys, args, resolve, reject });
      if (n === 1) queueMicrotask(flush);
      else if (n >= MAX_PIPELINED) flush();
    });
}
