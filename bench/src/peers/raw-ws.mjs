/**
 * Raw `ws` echo, the physical reference: the client sends the payload as a text message, the
 * server echoes the bytes back, the client counts the echo. No ids, no parsing, no state.
 */
import { WebSocket } from 'ws';
import { PAYLOAD } from '../payload.mjs';
import { opened, closeWs, serveWs } from './ws-util.mjs';

export function serve() {
  return serveWs((ws, data, isBinary, answer) => answer(() => ws.send(data, { binary: isBinary })));
}

export async function connect({ port, url = `ws://127.0.0.1:${port}` }) {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await opened(ws);
  const peer = {
    onAck: () => {},
    onError: () => {},
    fire() {
      ws.send(JSON.stringify(PAYLOAD));
    },
    unflushed: () => ws.bufferedAmount,
    close: () => closeWs(ws),
  };
  ws.on('message', () => peer.onAck());
  ws.on('error', (e) => peer.onError(e));
  return peer;
}
