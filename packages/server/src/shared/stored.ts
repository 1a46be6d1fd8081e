import { Buffer } from 'node:buffer';
import type { Codec } from '@lifeline/protocol';
import type { StoredOutcome } from '../engine/engine-sessions.js';
import { ErrorOutcome, type Outcome } from '../results.js';

// An engine stores strings (engine-sessions.ts): a text codec's units as they are, a binary
// codec's as base64. The session's codec is stored with its record, so every node reads them back.

export function storeUnit(codec: Codec, unit: unknown): string {
  return codec.binary ? Buffer.from(unit as Uint8Array).toString('base64') : (unit as string);
}

export function loadUnit(codec: Codec, text: string): unknown {
  return codec.binary ? Buffer.from(text, 'base64') : text;
}

export function storeOutcome(codec: Codec, outcome: Outcome): StoredOutcome {
  return outcome instanceof ErrorOutcome ? { error: true, data: storeUnit(codec, outcome.e) } : { error: false, data: storeUnit(codec, outcome) };
}

export function loadOutcome(codec: Codec, stored: StoredOutcome): Outcome {
  const unit = loadUnit(codec, stored.data);
  return stored.error ? new ErrorOutcome(unit) : unit;
}

/** A push as stored: `ts:idLength:id` then its encoded payload (an id may hold any character). */
export interface StoredPushParts {
  readonly ts: number;
  readonly id: string;
  readonly d: unknown;
}

export function storePush(codec: Codec, ts: number, id: string, d: unknown): string {
  return `${ts}:${id.length}:${id}${storeUnit(codec, d)}`;
}

export function loadPush(codec: Codec, data: string): StoredPushParts | undefined {
  const a = data.indexOf(':');
  const b = a === -1 ? -1 : data.indexOf(':', a + 1);
  if (b === -1) return undefined;
  const ts = Number(data.slice(0, a));
  const length = Number(data.slice(a + 1, b));
  if (!Number.isSafeInteger(length) || length < 1 || b + 1 + length > data.length) return undefined;
  const id = data.slice(b + 1, b + 1 + length);
  return { ts: Number.isFinite(ts) ? ts : 0, id, d: loadUnit(codec, data.slice(b + 1 + length)) };
}
