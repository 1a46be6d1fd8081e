/**
 * Socket.IO 4 over its websocket transport only. `emitWithAck` resolves with the server's
 * callback argument. With `retries` (+ `ackTimeout`), the client's at-least-once mode, every
 * emit goes through a queue that sends ONE packet at a time and waits for its ack (socket.io-client
 * 4.8 `_addToQueue` / `_drainQueue`), and re-sends the head of the queue on reconnect; the server
 * does not deduplicate. `emitWithAck` resolves with the ack in both modes.
 */
import { PAYLOAD, RESULT } from '../payload.mjs';
import { Hold } from '../hold.mjs';
import { withDeadline } from '../deadline.mjs';

export async function serve() {
  const { createServer } = await import('node:http');
  const { Server } = await import('socket.io');
  const hold = new Hold();
  const http = createServer();
  const io = new Server(http, { transports: ['websocket'], serveClient: false });
  const handler = () => RESULT;
  io.on('connection', (socket) => {
    socket.on('m', (data, callback) => hold.answer(() => callback(handler(data))));
  });
  await new Promise((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', resolve);
  });
  return {
    port: http.address().port,
    block: () => hold.block(),
    release: () => hold.release(),
    close: () =>
      withDeadline(
        new Promise((resolve) => {
          io.disconnectSockets(true);
          io.close(() => resolve());
        }),
        3_000,
        'socket.io server close',
      ).catch(() => http.closeAllConnections()),
  };
}

/** options: `{ retries, ackTimeout }` (both unset: plain `emitWithAck`). */
export async function connect({ port, url = `http://127.0.0.1:${port}`, options = {} }) {
  const { io } = await import('socket.io-client');
  const socket = io(url, {
    transports: ['websocket'],
    forceNew: true,
    reconnectionDelay: 1,
    reconnectionDelayMax: 20,
    randomizationFactor: 0,
    ...(options.retries ? { retries: options.retries, ackTimeout: options.ackTimeout } : {}),
  });
  await withDeadline(
    new Promise((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    }),
    5_000,
    'socket.io connect',
  );
  const peer = {
    onAck: () => {},
    onError: () => {},
    fire() {
      socket.emitWithAck('m', PAYLOAD).then(ack, fail);
    },
    unflushed() {
      const engine = socket.io.engine;
      return socket.sendBuffer.length + (engine?.writeBuffer?.length ?? 0) + (engine?.transport?.ws?.bufferedAmount ?? 0);
    },
    /** Resolves with `performance.now()` at the next (re)connection. */
    nextReconnect: () => new Promise((resolve) => socket.once('connect', () => resolve(performance.now()))),
    async close() {
      socket.disconnect();
      socket.io.engine?.close();
    },
  };
  const ack = () => peer.onAck();
  const fail = (e) => peer.onError(e);
  return peer;
}
