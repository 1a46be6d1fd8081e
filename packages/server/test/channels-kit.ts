import type { AnyFrame, RawClient } from '@lifeline/test-kit';

// Channel frames spoken by hand (protocol.md, "Channels"), for the channels*.test.ts files.

/** Send `sub` and take its answer (`subok` or `suberr`); `binary` for a session in a binary codec (`json-bytes`). */
export async function subscribe(client: RawClient, ch: string, extra: AnyFrame = {}, binary = false): Promise<AnyFrame> {
  const frame = { t: 'sub', ch, ...extra };
  client.send(binary ? Buffer.from(JSON.stringify(frame)) : frame);
  return client.next((f) => (f.t === 'subok' || f.t === 'suberr') && f.ch === ch);
}

/** The next `n` channel frames of `ch` that are `pub` or `gap`, in order. */
export async function take(client: RawClient, ch: string, n: number, timeoutMs = 5_000): Promise<AnyFrame[]> {
  const out: AnyFrame[] = [];
  while (out.length < n) out.push(await client.next((f) => (f.t === 'pub' || f.t === 'gap') && f.ch === ch, timeoutMs));
  return out;
}

/** Offsets of the `pub` frames among `frames`. */
export const offsets = (frames: readonly AnyFrame[]): number[] => frames.filter((f) => f.t === 'pub').map((f) => f.offset as number);

/** 1..n (or from..to). */
export const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

let pings = 0;
/**
 * A ping, and its pong: every frame the server wrote for this connection before it read the ping
 * has arrived. What a live fan-out writes, it writes during `publish()`, so after awaiting the
 * publications this shows that nothing more came.
 */
export async function settled(client: RawClient): Promise<void> {
  const ts = ++pings;
  client.send({ t: 'ping', ts });
  await client.next((f) => f.t === 'pong' && f.ts === ts);
}

/** Channel frames still queued on `client` (not taken). */
export const queued = (client: RawClient, ch: string, t?: string): AnyFrame[] =>
  client.pending.filter((f) => f.ch === ch && (t === undefined || f.t === t));
