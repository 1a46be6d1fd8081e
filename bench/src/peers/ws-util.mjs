/** Small promise helpers around `ws` sockets and servers, each bounded in time. */
import { WebSocketServer } from 'ws';
import { withDeadline } from '../deadline.mjs';
import { Hold } from '../hold.mjs';

/**
 * A loopback `ws` server whose answers can be held back (`block`/`release`, for the in-flight
 * memory figure). `onMessage(ws, data, isBinary, answer)` calls `answer(fn)` to reply.
 */
export async function serveWs(onMessage) {
  const hold = new Hold();
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  const answer = (fn) => hold.answer(fn);
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => onMessage(ws, data, isBinary, answer));
  });
  await listening(wss);
  return {
    port: wss.address().port,
    block: () => hold.block(),
    release: () => hold.release(),
    close: () => closeWss(wss),
  };
}

export function listening(wss) {
  return withDeadline(
    new Promise((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    }),
    5_000,
    'ws server listen',
  );
}

export function opened(ws, ms = 5_000) {
  return withDeadline(
    new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    }),
    ms,
    'ws connect',
  );
}

/** Closes a client socket; terminates it if the close handshake takes longer than `ms`. */
export async function closeWs(ws, ms = 1_000) {
  if (ws.readyState === ws.CLOSED) return;
  const closed = new Promise((resolve) => ws.once('close', resolve));
  ws.close();
  try {
    await withDeadline(closed, ms, 'ws close');
  } catch {
    ws.terminate();
  }
}

export async function closeWss(wss) {
  for (const ws of wss.clients) ws.terminate();
  await new Promise((resolve) => wss.close(() => resolve()));
}
