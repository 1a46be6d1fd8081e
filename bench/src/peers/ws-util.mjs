/** Small promise helpers around `ws` sockets and servers, each bounded in time. */
import { withDeadline } from '../deadline.mjs';

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
