import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { EventEmitter } from 'eventemitter3';
import pTimeout from 'p-timeout';

const WAIT_MS = 10_000;

/** A stuck wait fails naming what it waited for, well before the test's own 30 s timeout. */
export const within = <T>(promise: Promise<T>, what: string): Promise<T> =>
  pTimeout(promise, { milliseconds: WAIT_MS, message: `waited ${WAIT_MS} ms for ${what}` });

/** A `ws` server on 127.0.0.1, port 0, that logs every connection. */
export interface TestServer {
  readonly url: string;
  readonly wss: WebSocketServer;
  readonly sockets: WebSocket[];
  /** Resolves with the n-th connection (1-based) once it exists. */
  connection(n: number): Promise<WebSocket>;
  close(): Promise<void>;
}

export async function startServer(onConnection?: (socket: WebSocket, index: number) => void): Promise<TestServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  const sockets: WebSocket[] = [];
  const waiters = new Map<number, (socket: WebSocket) => void>();
  wss.on('connection', (socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
    onConnection?.(socket, sockets.length);
    waiters.get(sockets.length)?.(socket);
  });
  const { port } = wss.address() as AddressInfo;
  return {
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
}

/** A TCP server that accepts connections and never answers the WebSocket upgrade. */
export async function startSilentServer(): Promise<{ url: string; accepted: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const state = { accepted: 0 };
  const server: Server = createServer((socket) => {
    state.accepted++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    get accepted() {
      return state.accepted;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The arguments of the next `event` from an EventEmitter3 emitter. */
export function next<T extends unknown[] = unknown[]>(emitter: EventEmitter, event: string): Promise<T> {
  return within(new Promise((resolve) => emitter.once(event, (...args: unknown[]) => resolve(args as T))), `'${event}'`);
}

/** Resolves when `predicate()` holds, checked after every `event`. */
export function until(emitter: { on(event: string, fn: () => void): unknown; off(event: string, fn: () => void): unknown }, event: string, predicate: () => boolean): Promise<void> {
  if (predicate()) return Promise.resolve();
  let check = () => {};
  const held = new Promise<void>((resolve) => {
    check = () => {
      if (predicate()) resolve();
    };
    emitter.on(event, check);
  });
  return within(held, `a condition checked on '${event}'`).finally(() => emitter.off(event, check));
}
