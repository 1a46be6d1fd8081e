import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Deadlines, afterIoTimers } from '../src/internal.js';

/**
 * A stall on real sockets: `arm` sets a 20 ms deadline, the peer's bytes reach the kernel, and the
 * process stays busy for 80 ms. libuv then runs the timers phase before the poll phase; the bytes
 * settle the deadline (`settle`) when read. Resolves with what expired, once the verdict is in.
 */
async function stallWithBytesWaiting(arm: (at: number) => void, settle: () => void): Promise<void> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  try {
    await once(client, 'connect');
    const [peer] = await accepted;
    const read = new Promise<void>((resolve) =>
      peer.once('data', () => {
        settle();
        resolve();
      }),
    );
    arm(performance.now() + 20);
    client.write('bytes in time');
    for (const until = performance.now() + 80; performance.now() < until; );
    await read;
    // A verdict queued in the timers phase runs before an immediate queued now.
    await new Promise((resolve) => setImmediate(resolve));
    peer.destroy();
  } finally {
    client.destroy();
    server.close();
  }
}

describe('timeouts judged after the I/O waiting', () => {
  it('Deadlines: after a stall, what the waiting bytes settle does not expire', async () => {
    const expired: string[] = [];
    const deadlines = new Deadlines<string>((item) => expired.push(item), { resolutionMs: 1 });
    await stallWithBytesWaiting(
      (at) => deadlines.add('request', at),
      () => deadlines.delete('request'),
    );
    expect(expired).toEqual([]);
    expect(deadlines.size).toBe(0);
  });

  it('afterIoTimers: a timer cleared by the waiting bytes never calls back', async () => {
    let fired = 0;
    let handle: ReturnType<typeof afterIoTimers.setTimeout> | undefined;
    await stallWithBytesWaiting(
      (at) => (handle = afterIoTimers.setTimeout(() => fired++, at - performance.now())),
      () => afterIoTimers.clearTimeout(handle),
    );
    expect(fired).toBe(0);
  });

  it('afterIoTimers: a timer nobody clears calls back once', async () => {
    const fired = await new Promise<number>((resolve) => afterIoTimers.setTimeout(() => resolve(1), 5));
    expect(fired).toBe(1);
  });
});
