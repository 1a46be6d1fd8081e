/**
 * Raw `ws` echo, the physical reference: the client sends the payload as a text message, the
 * server echoes the bytes back, the client counts the echo. No ids, no parsing, no state.
 */
import { WebSocket, WebSocketServer } from 'ws';
import { PAYLOAD } from '../payload.mjs';
import { Hold } from '../hold.mjs';
import { listening, opened, closeWs, closeWss } from './ws-util.mjs';

export async function serve() {
  const hold = new Hold();
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => hold.answer(() => ws.send(data, { binary: isBinary })));
  });
  await listening(wss);
  return {
    port: wss.address().port,
    block: () => hold.block(),
    release: () => hold.release(),
    close: () => closeWss(wss),
  };
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
