// The trading example's server: one http.Server on 127.0.0.1 that serves the built page and
// carries Lifeline's WebSocket on /ws; the exchange is the Lifeline handler, the simulator
// keeps the market moving, and the book and ticker go out on channels.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import { createServer, type LifelineServer } from '@lifeline/server';
import { SYMBOLS, bookChannel, tickerChannel } from '../shared/market.js';
import { Exchange, exchangeDefaults } from './exchange.js';
import { Simulator, simulatorDefaults } from './simulator.js';

/** Demo tokens → user: a stand-in for a real identity provider (the page picks one with `?user=`). */
export const demoUsers: Readonly<Record<string, string>> = Object.freeze({ 'alice-demo-token': 'alice', 'bob-demo-token': 'bob' });

export interface TradingOptions {
  /** Directory of the built page (index.html and assets/). */
  readonly staticDir: string;
  /** HTTP port (0: an ephemeral one). @default 0 */
  readonly port?: number;
  /** Publications each channel's history keeps: a subscriber away longer than that gets a `gap`. @default 1_000 */
  readonly historySize?: number;
  readonly bookEveryMs?: number;
  readonly tickerEveryMs?: number;
  readonly simulatorEveryMs?: number;
  /** Start the simulator at once. @default true */
  readonly simulate?: boolean;
  readonly users?: Readonly<Record<string, string>>;
  readonly log?: (line: string) => void;
}

export interface Trading {
  /** The page: `http://127.0.0.1:<port>/`. */
  readonly url: string;
  readonly port: number;
  readonly server: LifelineServer;
  readonly exchange: Exchange;
  readonly simulator: Simulator;
  /** Stops the simulator, the feeds, the Lifeline server and the HTTP server; safe to call twice. */
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};
// The page loads nothing from elsewhere; its WebSocket may go to another port (the test's fault proxy).
const CSP = "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'; img-src 'self' data:";
const CHANNEL_NAMES = new Set(SYMBOLS.flatMap((s) => [bookChannel(s), tickerChannel(s)]));

export async function startTrading(options: TradingOptions): Promise<Trading> {
  const log = options.log ?? (() => {});
  const users = new Map(Object.entries(options.users ?? demoUsers));
  const root = resolve(options.staticDir);

  const web = http.createServer((req, res) => {
    serve(root, req, res).catch((error: Error) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`internal error: ${error.message}\n`);
    });
  });
  let exchange: Exchange | undefined;
  const server = createServer({
    server: web,
    path: '/ws',
    handler: (data, ctx) => exchange!.handle(data, ctx),
    authenticate: (auth) => {
      const user = users.get(String((auth as { token?: unknown } | null)?.token));
      return user === undefined ? null : { sub: user };
    },
    channels: {
      // Market data is public to every signed-in user; a page cannot subscribe to anything else.
      authorize: (_session, channel) => CHANNEL_NAMES.has(channel),
      historySize: options.historySize ?? 1_000,
    },
  });
  server.on('error', (error: unknown) => log(`server error: ${(error as Error).message}`));
  exchange = new Exchange(server, {
    bookEveryMs: options.bookEveryMs ?? exchangeDefaults.bookEveryMs,
    tickerEveryMs: options.tickerEveryMs ?? exchangeDefaults.tickerEveryMs,
    report: (error) => log(`exchange: ${error.message}`),
  });
  server.on('session', (session) => exchange!.attach(session));
  const simulator = new Simulator(exchange, { everyMs: options.simulatorEveryMs ?? simulatorDefaults.everyMs });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      simulator.stop();
      exchange.stop();
      await server.close({ timeoutMs: 2_000 }).catch(() => {});
      web.closeAllConnections();
      await new Promise<void>((done) => web.close(() => done()));
    })());

  try {
    await new Promise<void>((done, fail) => {
      web.once('error', fail);
      web.listen(options.port ?? 0, '127.0.0.1', () => {
        web.off('error', fail);
        done();
      });
    });
    await server.listen();
    await exchange.start();
    if (options.simulate ?? true) simulator.start();
  } catch (error) {
    await close();
    throw error;
  }
  const port = (web.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}/`, port, server, exchange, simulator, close };
}

async function serve(root: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
  const file = resolve(root, `.${path === '/' ? '/index.html' : decodeURIComponent(path)}`);
  const type = TYPES[extname(file)];
  // Only files under the page's directory, and only the kinds the page is made of.
  if (!file.startsWith(root + sep) || type === undefined) {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
    return;
  }
  let body: Buffer;
  try {
    body = await readFile(file);
  } catch {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
    return;
  }
  const cache = path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-store';
  res.writeHead(200, { 'content-type': type, 'cache-control': cache, 'x-content-type-options': 'nosniff', 'content-security-policy': CSP });
  res.end(req.method === 'HEAD' ? undefined : body);
}
