import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createServer, type LifelineServer } from '@lifeline/server';
import { USER_NAME, type MemberIdentity } from '../shared/protocol.js';
import { chatHandler } from './handler.js';
import { resolveChatOptions, type ChatOptions } from './options.js';
import { Rooms } from './rooms.js';
import { loadStatic } from './static.js';

/** Vite's output, from src/server and from dist/server alike. */
const DEFAULT_PAGE_DIR = fileURLToPath(new URL('../../dist/page/', import.meta.url));
const CLOSE_TIMEOUT_MS = 3_000;

export interface ChatServer {
  /** The page, e.g. `http://127.0.0.1:3000/`; its WebSocket is `/ws` on the same origin. */
  readonly url: string;
  readonly port: number;
  readonly lifeline: LifelineServer;
  /** Stops the Lifeline server (sessions told to go away) and the HTTP server; bounded, safe twice. */
  close(): Promise<void>;
}

/**
 * The chat: one HTTP server on `host:port` serving the built page, with Lifeline's WebSocket on
 * `/ws`. Rooms are channels (`room:<name>`, typing notices on `typing:<name>`); the page sends
 * requests with `client.send()` and the handler answers, publishing lines to the room.
 */
export async function startChat(options: ChatOptions = {}): Promise<ChatServer> {
  const o = resolveChatOptions(options, DEFAULT_PAGE_DIR);
  const serveStatic = await loadStatic(o.pageDir);
  const rooms = new Rooms(o.rooms, o.maxRooms);
  const web = http.createServer(serveStatic);

  // `lifeline` is used by the handler only once the server exists; the handler is made right after.
  let handler: ReturnType<typeof chatHandler> | undefined;
  const lifeline = createServer({
    server: web,
    path: '/ws',
    resumeWindowMs: o.resumeWindowMs,
    // The user name is the whole credential: a demo, not an account system (see the README).
    authenticate: (auth) => {
      const user = (auth as { user?: unknown } | null)?.user;
      return typeof user === 'string' && USER_NAME.test(user) ? ({ user } satisfies MemberIdentity) : false;
    },
    handler: (data, ctx) => (handler as NonNullable<typeof handler>)(data, ctx),
    channels: {
      historySize: o.historySize,
      // Rooms and their typing channels only, for rooms that exist or may still be opened.
      authorize: (_session, channel) => {
        const match = /^(room|typing):(.+)$/.exec(channel);
        if (match === null) return false;
        try {
          rooms.open(match[2]);
          return true;
        } catch {
          return false;
        }
      },
      presence: (session) => ({ user: (session.identity as MemberIdentity).user }),
    },
  });
  handler = chatHandler(lifeline, rooms, o);
  lifeline.on('error', (error) => o.log(`chat server error: ${error instanceof Error ? error.message : String(error)}`));

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await lifeline.close({ timeoutMs: CLOSE_TIMEOUT_MS }).catch(() => {});
      web.closeAllConnections();
      await new Promise<void>((resolve) => web.close(() => resolve()));
    })());

  try {
    await lifeline.listen(); // attaches to `web`'s upgrades
    await new Promise<void>((resolve, reject) => {
      web.once('error', reject);
      web.listen(o.port, o.host, () => {
        web.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await close();
    throw error;
  }
  const port = (web.address() as AddressInfo).port;
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  return { url: `http://${host}:${port}/`, port, lifeline, close };
}
