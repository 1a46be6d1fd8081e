import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { FaultProxy } from '@lifeline/fault-proxy';
import { createServer, type LifelineServer, type ServerOptions, type Session } from '@lifeline/server';
import { onCleanup } from './cleanup.js';
import { nextEvent } from './events.js';
import { WAIT_MS, within } from './within.js';

/** A Lifeline server on 127.0.0.1, port 0, echoing by default; `closeAll` closes it. */
export async function startServer(options: Partial<ServerOptions> = {}): Promise<LifelineServer> {
  const server = createServer({ port: 0, host: '127.0.0.1', handler: (data) => data, ...options });
  await server.listen();
  onCleanup(() => server.close({ timeoutMs: 500 }));
  return server;
}

export const urlOf = (server: { readonly port: number }): string => `ws://127.0.0.1:${server.port}`;

/** The next `session` of `server`. */
export const nextSession = (server: LifelineServer, timeoutMs = WAIT_MS): Promise<Session> => nextEvent<Session>(server, 'session', timeoutMs);

/** The fault proxy in front of `port`; `closeAll` closes it. */
export async function startProxy(port: number): Promise<FaultProxy> {
  const proxy = await FaultProxy.start({ target: { port } });
  onCleanup(() => proxy.close());
  return proxy;
}

/** A plain `ws` server on 127.0.0.1, port 0, that logs every connection. */
export interface WsServer {
  readonly url: string;
  readonly wss: WebSocketServer;
  readonly sockets: WebSocket[];
  /** Resolves with the n-th connection (1-based) once it exists. */
  connection(n: number): Promise<WebSocket>;
  close(): Promise<void>;
}

/** A plain `ws` server (no Lifeline protocol: the test answers by hand); `closeAll` closes it. */
export async function startWsServer(onConnection?: (socket: WebSocket, index: number) => void): Promise<WsServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await within(new Promise<void>((resolve) => wss.once('listening', resolve)), 'the ws server to listen');
  const sockets: WebSocket[] = [];
  const waiters = new Map<number, (socket: WebSocket) => void>();
  wss.on('connection', (socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
    onConnection?.(socket, sockets.length);
    waiters.get(sockets.length)?.(socket);
  });
  const { port } = wss.address() as AddressInfo;
  const server: WsServer = {
    url: `ws://127.0.0.1:${port}`,
    wss,
    sockets,
    connection(n) {
      const existing = sockets[n - 1];
      if (existing) return Promise.resolve(existing);
      return within(new Promise((resolve) => waiters.set(n, resolve)), `connection ${n}`);
    },
    async close() {
      for (const s of sockets) s.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
  onCleanup(() => server.close());
  return server;
}

/** A TCP server that accepts connections and never answers the WebSocket upgrade; `closeAll` closes it. */
export async function startSilentServer(): Promise<{ url: string; readonly accepted: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const state = { accepted: 0 };
  const server: Server = createTcpServer((socket) => {
    state.accepted++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await within(new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)), 'the silent server to listen');
  const { port } = server.address() as AddressInfo;
  const silent = {
    url: `ws://127.0.0.1:${port}`,
    get accepted() {
      return state.accepted;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  onCleanup(() => silent.close());
  return silent;
}
