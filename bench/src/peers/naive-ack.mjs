/**
 * The ack an application writes by hand over raw `ws`: an id per request, a Map of pending
 * promises keyed by id, the server answers `{ id, result }`. No timeout, no retry, no replay:
 * what is lost with a connection stays pending until the socket closes.
 */
import { WebSocket } from 'ws';
import { PAYLOAD, RESULT } from '../payload.mjs';
import { opened, closeWs, serveWs } from './ws-util.mjs';

export function serve() {
  const handler = () => RESULT;
  return serveWs((ws, raw, _isBinary, answer) => {
    const { id, data } = JSON.parse(raw);
    answer(() => ws.send(JSON.stringify({ id, result: handler(data) })));
  });
}

/** The hand-written client: `request(data)` resolves with the server's result. */
export class NaiveAckClient {
  #pending = new Map();
  #nextId = 1;

  constructor(ws) {
    this.ws = ws;
    ws.on('message', (raw) => {
      const { id, result, error } = JSON.parse(raw);
      const p = this.#pending.get(id);
      if (!p) return;
      this.#pending.delete(id);
      if (error) p.reject(new Error(error));
      else p.resolve(result);
    });
    ws.on('close', () => {
      for (const p of this.#pending.values()) p.reject(new Error('connection closed'));
      this.#pending.clear();
    });
  }

  request(data) {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ id, data }));
    });
  }
}

export async function connect({ port, url = `ws://127.0.0.1:${port}` }) {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await opened(ws);
  const client = new NaiveAckClient(ws);
  const peer = {
    onAck: () => {},
    onError: () => {},
    fire() {
      client.request(PAYLOAD).then(ack, fail);
    },
    unflushed: () => ws.bufferedAmount,
    close: () => closeWs(ws),
  };
  const ack = () => peer.onAck();
  const fail = (e) => peer.onError(e);
  ws.on('error', fail);
  return peer;
}
