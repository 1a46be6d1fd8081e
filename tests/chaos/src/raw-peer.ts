import WebSocket from 'ws';

/** One WebSocket message a raw peer sends: text, binary, or text bytes that are not UTF-8. */
export type RawMessage =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'binary'; readonly bytes: Uint8Array }
  | { readonly kind: 'bad-utf8'; readonly bytes: Uint8Array };

export interface PeerOutcome {
  /** The server's first frame was a `welcome`. */
  readonly welcomed: boolean;
  /** The server answered our probe `ping` (sent after `welcome`): the connection is healthy. */
  readonly ponged: boolean;
  /** The close code the server sent, or 'open' when we ended a healthy connection ourselves. */
  readonly end: number | 'open';
  readonly reason: string;
}

export const PROBE_TS = 4242;
const BYE = '{"t":"bye","code":1000,"reason":"fuzz case done"}';

function send(ws: WebSocket, m: RawMessage): void {
  const done = () => {}; // a send after the server closed fails quietly: the close is what we observe
  if (m.kind === 'text') ws.send(m.text, done);
  else ws.send(m.bytes, { binary: m.kind === 'binary' }, done);
}

/**
 * A peer that speaks raw WebSocket: sends `first` then `second` back to back (nothing at all
 * when `first` is undefined) (so the second may
 * arrive while the server is still in its handshake), and once welcomed sends a probe `ping`.
 * A pong means the server kept the connection healthy: we say `bye` 1000 and report 'open'.
 * Otherwise we report the close code the server chose. Bounded by `timeoutMs`.
 */
export function rawPeer(url: string, first: RawMessage | undefined, second: RawMessage | undefined, timeoutMs = 3_000): Promise<PeerOutcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    let welcomed = false;
    let ponged = false;
    let firstFrame = true;
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`raw peer: no outcome within ${timeoutMs} ms (welcomed=${welcomed}, ponged=${ponged})`));
    }, timeoutMs);
    ws.on('error', () => {});
    ws.on('open', () => {
      if (first === undefined) return; // a silent peer: nothing at all
      send(ws, first);
      if (second !== undefined) send(ws, second);
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let frames: unknown;
      try {
        frames = JSON.parse(data.toString());
      } catch {
        return;
      }
      for (const f of Array.isArray(frames) ? frames : [frames]) {
        const t = (f as { t?: unknown }).t;
        if (firstFrame) {
          firstFrame = false;
          if (t === 'welcome') {
            welcomed = true;
            ws.send(`{"t":"ping","ts":${PROBE_TS}}`, () => {});
          }
        }
        if (t === 'pong' && (f as { ts?: unknown }).ts === PROBE_TS && !ponged) {
          ponged = true;
          ws.send(BYE, () => {});
          ws.close(1000, 'fuzz case done');
        }
      }
    });
    ws.on('close', (code, reason) => {
      clearTimeout(timer);
      resolve({ welcomed, ponged, end: ponged ? 'open' : code, reason: reason.toString() });
    });
  });
}
