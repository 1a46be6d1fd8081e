import { Encoder } from '@msgpack/msgpack';
import fc from 'fast-check';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ProtocolError, msgpackCodec } from '@lifeline/protocol';
import { anyValidFrame, junkMessage, mutatedMessage, objectText, validBatch, weirdValues } from '../src/arbitraries.js';
import { fuzzParams } from '../src/fuzz-params.js';
import { judgeMessage, limits } from '../src/spec.js';

/**
 * Fuzzing the msgpack decoder (docs/reliability.md#fuzz) as fuzz-decoder.test.ts fuzzes the JSON
 * one: the same generated messages, written as MessagePack, must be accepted or refused as
 * docs/protocol.md says (src/spec.ts), with the same frames and close codes. The msgpack codec
 * carries the JSON data model minus two things JSON text can hold: a non-finite number (JSON.parse
 * turns `1e999` into Infinity) and a `__proto__` key, both refused with 4400. Random bytes and
 * damaged MessagePack decode or fail with ProtocolError 4400/4406, never another error.
 *
 *   FUZZ_RUNS=20000 npm test -w @lifeline/chaos-tests -- test/fuzz-msgpack.test.ts
 */

const RUNS = Number(process.env.FUZZ_RUNS ?? 1_000);
// Deep enough to write whatever JSON.parse built, so the decoder's own bound is what is tested.
const writer = new Encoder({ maxDepth: 100_000 });

type Outcome = { ok: true; frames: unknown[] } | { ok: false; error: unknown };
function attempt(run: () => unknown[]): Outcome {
  try {
    return { ok: true, frames: run() };
  } catch (error) {
    return { ok: false, error };
  }
}

function expectContract(o: Outcome, shown: string): void {
  if (o.ok) return;
  const e = o.error;
  if (!(e instanceof ProtocolError)) throw new Error(`decode threw ${String(e)} (not a ProtocolError) for ${shown}`, { cause: e });
  if (e.closeCode !== 4400 && e.closeCode !== 4406) throw new Error(`ProtocolError with close code ${e.closeCode} for ${shown}`);
}

/** Whether a parsed value holds what msgpack refuses and JSON text carries. */
function outsideModel(v: unknown): boolean {
  if (typeof v === 'number') return !Number.isFinite(v);
  if (typeof v !== 'object' || v === null) return false;
  if (Array.isArray(v)) return v.some(outsideModel);
  return Object.prototype.hasOwnProperty.call(v, '__proto__') || Object.values(v).some(outsideModel);
}

/**
 * Strings compared as UTF-8 carries them: a lone surrogate (which JSON text can escape) may come
 * back as U+FFFD (@msgpack/msgpack keeps it in short strings and replaces it in long ones), one
 * UTF-16 unit for one, so no length bound changes.
 */
function wellFormed(v: unknown): unknown {
  if (typeof v === 'string') return (v as string & { toWellFormed(): string }).toWellFormed();
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) return v.map(wellFormed);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [wellFormed(k), wellFormed(x)]));
}

/** The JSON message written as MessagePack, decoded, and judged against the spec; undefined when the text is no JSON value. */
function expectAgreement(text: string): Outcome | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const bytes = writer.encode(value);
  const o = attempt(() => msgpackCodec.decode(bytes));
  const shown = JSON.stringify(text.slice(0, 300));
  expectContract(o, shown);
  const v = outsideModel(value) ? ({ ok: false, codes: new Set([4400]), why: 'outside the JSON data model' } as const) : judgeMessage(JSON.stringify(value)); // the text of the value written: duplicate keys are gone, as in the bytes
  if (v.ok && !o.ok) throw new Error(`msgpack decode rejected a message protocol.md allows (${(o.error as Error).message}): ${shown}`);
  if (!v.ok && o.ok) throw new Error(`msgpack decode accepted a message protocol.md forbids (${v.why}): ${shown}`);
  // JSON.stringify: -0 is written as the integer 0, as JSON text writes it.
  if (v.ok && o.ok && JSON.stringify(wellFormed(o.frames)) !== JSON.stringify(wellFormed(v.frames))) throw new Error(`msgpack decode changed the frames of ${shown}`);
  if (!v.ok && !o.ok) {
    const code = (o.error as ProtocolError).closeCode;
    if (!v.codes.has(code)) throw new Error(`close code ${code}, expected ${[...v.codes].join(' or ')} (${v.why}): ${shown}`);
  }
  return o;
}

const protoNames = (o: object) => Object.getOwnPropertyNames(o).sort().join(',');
let before: string;
beforeAll(() => {
  before = protoNames(Object.prototype);
});
afterEach(() => {
  expect(protoNames(Object.prototype)).toBe(before);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
});

describe('fuzz: the msgpack decoder agrees with the spec', () => {
  it('valid frames and batches decode to themselves', () => {
    fc.assert(
      fc.property(fc.oneof(anyValidFrame.map(objectText), validBatch), (message) => {
        const o = expectAgreement(message);
        // Valid frames may carry a `__proto__` key in a payload: JSON carries it, msgpack refuses it.
        if (o === undefined || (!o.ok && !outsideModel(JSON.parse(message)))) throw new Error(`valid message rejected: ${message.slice(0, 300)}`);
      }),
      fuzzParams(RUNS),
    );
  });

  it('mutated frames (fields dropped, retyped, added; batched; nested): spec agreement', () => {
    fc.assert(fc.property(mutatedMessage, (message) => void expectAgreement(message)), fuzzParams(RUNS * 4));
  });

  it('edge values of every field, one at a time, in every frame type', () => {
    let checked = 0;
    for (const frame of fc.sample(anyValidFrame, { numRuns: 60, seed: 7 })) {
      for (let i = 0; i < frame.length; i++) {
        for (const value of weirdValues) {
          if (expectAgreement(objectText(frame.map(([k, v], n): [string, string] => [k, n === i ? value : v]))) !== undefined) checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(1_000);
  });

  it('boundaries: 64 levels pass and 65 fail; 4096 frames pass and 4097 fail', () => {
    const ping = '{"t":"ping","ts":1}';
    const inArrays = (n: number) => `{"t":"msg","seq":1,"id":"a","ts":0,"d":${'['.repeat(n)}${']'.repeat(n)}}`;
    expect(expectAgreement(inArrays(limits.maxDepth - 1))?.ok).toBe(true);
    expect(expectAgreement(inArrays(limits.maxDepth))?.ok).toBe(false);
    expect(expectAgreement(`[${inArrays(limits.maxDepth - 1)}]`)?.ok).toBe(true);
    expect(expectAgreement(`[${Array(limits.maxFrames).fill(ping).join(',')}]`)?.ok).toBe(true);
    expect(expectAgreement(`[${Array(limits.maxFrames + 1).fill(ping).join(',')}]`)?.ok).toBe(false);
    for (const message of ['[]', '[[]]', '{}', '""', '1e999', 'null', '{"t":"msg","seq":1,"id":"a","ts":0,"d":{"__proto__":{"polluted":1}}}']) expectAgreement(message);
  });
});

describe('fuzz: the msgpack decoder on bytes', () => {
  it('random bytes and text: frames or ProtocolError 4400/4406, never anything else', () => {
    fc.assert(
      fc.property(junkMessage, (message) => {
        const o = attempt(() => msgpackCodec.decode(message));
        expectContract(o, fc.stringify(message).slice(0, 200));
        if (typeof message === 'string') expect(o.ok).toBe(false);
      }),
      fuzzParams(RUNS * 2),
    );
  });

  it('valid MessagePack frames with bytes flipped, cut or inserted: frames or ProtocolError', () => {
    const damaged = fc
      .tuple(fc.oneof(anyValidFrame.map(objectText), validBatch), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'cut', 'insert')), { minLength: 1, maxLength: 4 }))
      .map(([text, edits]) => {
        let bytes = Array.from(writer.encode(JSON.parse(text)));
        for (const [at, byte, how] of edits) {
          const i = at % (bytes.length + 1);
          if (how === 'flip') bytes[i % bytes.length] = byte;
          else if (how === 'cut') bytes = bytes.slice(0, i);
          else bytes.splice(i, 0, byte);
        }
        return Uint8Array.from(bytes);
      });
    fc.assert(
      fc.property(damaged, (bytes) => {
        expectContract(
          attempt(() => msgpackCodec.decode(bytes)),
          Buffer.from(bytes).toString('hex').slice(0, 200),
        );
      }),
      fuzzParams(RUNS * 4),
    );
  });

  it('arbitrary values written as MessagePack: frames or ProtocolError', () => {
    fc.assert(
      fc.property(fc.anything({ maxDepth: 80 }), (value) => {
        let bytes: Uint8Array;
        try {
          bytes = writer.encode(value);
        } catch {
          return; // not writable (a BigInt beyond 64 bits, a symbol)
        }
        expectContract(
          attempt(() => msgpackCodec.decode(bytes)),
          fc.stringify(value).slice(0, 200),
        );
      }),
      fuzzParams(RUNS),
    );
  });
});
