import type { RateOptions } from './limits.js';

export interface ChatOptions {
  /** HTTP port of the page and its WebSocket (`/ws`); 0 picks a free one. @default 0 */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** The built page (Vite's output). @default the package's dist/page */
  pageDir?: string;
  /** Rooms that exist from the start. @default ['general', 'random', 'help'] */
  rooms?: readonly string[];
  /** Most rooms in all (users may open new ones up to it): each is two channels with a history. @default 32 */
  maxRooms?: number;
  /** Longest line, in characters (code points). @default 500 */
  maxTextLength?: number;
  /** Lines per user. @default { burst: 20, perSecond: 2 } */
  rate?: RateOptions;
  /** Typing notices per user; over it they are dropped silently. @default { burst: 3, perSecond: 1 } */
  typingRate?: RateOptions;
  /** Lines of history a user sees on joining a room. @default 50 */
  historyOnJoin?: number;
  /** Lines each room's channel keeps (recovery after a drop, history on join). @default 1_000 */
  historySize?: number;
  /** How long a detached session stays resumable (the server's `resumeWindowMs`). @default 120_000 */
  resumeWindowMs?: number;
  /** Where the server reports unexpected errors. @default console.error */
  log?: (line: string) => void;
}

export const chatDefaults = Object.freeze({
  port: 0,
  host: '127.0.0.1',
  rooms: Object.freeze(['general', 'random', 'help']) as readonly string[],
  maxRooms: 32,
  maxTextLength: 500,
  rate: Object.freeze({ burst: 20, perSecond: 2 }) as RateOptions,
  typingRate: Object.freeze({ burst: 3, perSecond: 1 }) as RateOptions,
  historyOnJoin: 50,
  historySize: 1_000,
  resumeWindowMs: 120_000,
});

export type ResolvedChatOptions = Required<Omit<ChatOptions, 'pageDir'>> & { readonly pageDir: string };

function integer(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) throw new TypeError(`startChat: ${name} must be an integer ≥ ${min}, got ${String(value)}`);
  return value;
}

export function resolveChatOptions(options: ChatOptions, defaultPageDir: string): ResolvedChatOptions {
  const d = chatDefaults;
  return {
    port: integer('port', options.port ?? d.port, 0),
    host: options.host ?? d.host,
    pageDir: options.pageDir ?? defaultPageDir,
    rooms: options.rooms ?? d.rooms,
    maxRooms: integer('maxRooms', options.maxRooms ?? d.maxRooms, 1),
    maxTextLength: integer('maxTextLength', options.maxTextLength ?? d.maxTextLength, 1),
    rate: options.rate ?? d.rate,
    typingRate: options.typingRate ?? d.typingRate,
    historyOnJoin: integer('historyOnJoin', options.historyOnJoin ?? d.historyOnJoin, 0),
    historySize: integer('historySize', options.historySize ?? d.historySize, 1),
    resumeWindowMs: integer('resumeWindowMs', options.resumeWindowMs ?? d.resumeWindowMs, 1),
    log: options.log ?? ((line) => console.error(line)),
  };
}
