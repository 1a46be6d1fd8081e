/**
 * The WebSocket edge: the small interface Lifeline needs from a socket, and how the constructor
 * is chosen. Browsers and Node ≥ 22 have a global `WebSocket`; on Node 20 the `ws` package is
 * loaded with a dynamic `import()`, so bundlers keep it out of browser builds (the same split as
 * engine.io-client's).
 */

/** `readyState` values shared by the browser `WebSocket` and `ws`. */
export const ReadyState = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const;

export interface MessageEventLike {
  readonly data: unknown;
}

export interface CloseEventLike {
  readonly code: number;
  readonly reason: string;
}

/**
 * What Lifeline uses of a WebSocket. The browser `WebSocket`, `ws`'s `WebSocket` and undici's all
 * satisfy it; a test double needs only these members.
 */
export interface WebSocketLike {
  readonly readyState: number;
  /** Bytes accepted by `send()` but not yet handed to the network. */
  readonly bufferedAmount: number;
  /** A string for a text message; bytes for a binary one (binary codecs only). */
  send(data: string | ArrayBuffer | ArrayBufferView): void;
  /** Browsers: how binary messages arrive; set to `'arraybuffer'` for a binary codec. */
  binaryType?: string;
  close(code?: number, reason?: string): void;
  /** `ws` only: destroy the socket at once, without a closing handshake. */
  terminate?(): void;
  addEventListener(type: 'open', listener: (event: unknown) => void): void;
  addEventListener(type: 'message', listener: (event: MessageEventLike) => void): void;
  addEventListener(type: 'close', listener: (event: CloseEventLike) => void): void;
  addEventListener(type: 'error', listener: (event: unknown) => void): void;
  /**
   * `ws` only, its `EventEmitter` form: a text message arrives as UTF-8 bytes with `isBinary`
   * false. Used instead of the `message` event where present (see `Link`).
   */
  on?(type: 'message', listener: (data: { toString(): string }, isBinary: boolean) => void): void;
  /** `ws` only: the upgrade response, whose TCP socket shows bytes as they arrive (see `Link`). */
  on?(type: 'upgrade', listener: (response: { socket?: { on(type: 'data', listener: () => void): unknown } }) => void): void;
}

/**
 * `options` is read by `ws` only (`maxPayload`: it refuses a larger message before buffering it);
 * the browser `WebSocket` and undici ignore a third argument, so the transport also checks the
 * length of every message it is handed (`Link`).
 */
export type WebSocketConstructor = new (url: string, protocols?: string | string[], options?: { maxPayload?: number }) => WebSocketLike;

/** `setTimeout` fires at once (after a warning) for a delay above this: no timer may be longer. */
export const MAX_TIMER_MS = 2_147_483_647;

let wsModule: Promise<WebSocketConstructor> | undefined;

/**
 * `explicit` if given, else `globalThis.WebSocket`, else `ws` (loaded once, on first use).
 */
export function resolveWebSocket(explicit: WebSocketConstructor | undefined): WebSocketConstructor | Promise<WebSocketConstructor> {
  if (explicit !== undefined) return explicit;
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (global !== undefined) return global;
  wsModule ??= import('ws').then(
    (mod) => mod.default as unknown as WebSocketConstructor,
    (cause: unknown) => {
      wsModule = undefined;
      throw new TypeError('no WebSocket implementation: pass options.WebSocket, or install the "ws" package', { cause });
    },
  );
  return wsModule;
}

/** WebSocket close reasons are limited to 123 bytes of UTF-8; `ws` throws on longer ones. */
export function clampReason(reason: string): string {
  if (reason.length <= 40) return reason;
  let out = '';
  let bytes = 0;
  for (const ch of reason) {
    const cp = ch.codePointAt(0) as number;
    const n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (bytes + n > 123) break;
    bytes += n;
    out += ch;
  }
  return out;
}
