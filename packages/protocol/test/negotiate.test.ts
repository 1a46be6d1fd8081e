import { describe, expect, it } from 'vitest';
import { jsonCodec, type Codec } from '../src/index.js';
import { checkCodecs, chooseCodec, codecNamed, offers } from '../src/internal.js';

const other: Codec<string> = { ...jsonCodec, name: 'other' };

describe('codec negotiation', () => {
  it('takes the first codec of the offer this side speaks; no offer means json', () => {
    expect(chooseCodec(['other', 'json'], [jsonCodec, other])).toBe(other);
    expect(chooseCodec(['nope', 'json'], [jsonCodec, other])).toBe(jsonCodec);
    expect(chooseCodec(undefined, [other, jsonCodec])).toBe(jsonCodec);
    expect(chooseCodec(['nope'], [jsonCodec])).toBeUndefined();
    expect(chooseCodec(undefined, [other])).toBeUndefined();
  });

  it('reads an absent welcome.codec as json, and knows what a hello accepts', () => {
    expect(codecNamed(undefined, [other, jsonCodec])).toBe(jsonCodec);
    expect(codecNamed('other', [jsonCodec])).toBeUndefined();
    expect(offers(undefined, jsonCodec)).toBe(true);
    expect(offers(undefined, other)).toBe(false);
    expect(offers(['other'], other)).toBe(true);
  });

  it('checks a codecs option at construction', () => {
    expect(checkCodecs([jsonCodec, other])).toEqual([jsonCodec, other]);
    expect(() => checkCodecs([])).toThrow(TypeError);
    expect(() => checkCodecs([jsonCodec, jsonCodec])).toThrow(/twice/);
    expect(() => checkCodecs([{ ...jsonCodec, name: 'Bad Name' }])).toThrow(TypeError);
    expect(() => checkCodecs('json' as never)).toThrow(TypeError);
  });
});
