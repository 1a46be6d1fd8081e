import { CODEC_NAME, MAX_CODECS_OFFERED, jsonCodec, type Codec } from './codec.js';

/**
 * Choosing the codec of a session (protocol.md, "Codecs"): the client offers names in
 * `hello.codecs`, in preference order; the server takes the first it speaks and names it in
 * `welcome.codec`. Either field absent means JSON, so a peer that knows nothing of codecs
 * speaks JSON with everyone.
 */

/** The codec a peer speaks when `hello.codecs` or `welcome.codec` is absent. */
export const DEFAULT_CODEC = jsonCodec.name;

/** The first codec of `offer` (absent: `["json"]`) that is in `supported`, or undefined when none is. */
export function chooseCodec(offer: readonly string[] | undefined, supported: readonly Codec[]): Codec | undefined {
  for (const name of offer ?? [DEFAULT_CODEC]) {
    const codec = codecNamed(name, supported);
    if (codec !== undefined) return codec;
  }
  return undefined;
}

/** The codec called `name` (absent: `"json"`) in `codecs`. */
export function codecNamed(name: string | undefined, codecs: readonly Codec[]): Codec | undefined {
  const wanted = name ?? DEFAULT_CODEC;
  for (const codec of codecs) if (codec.name === wanted) return codec;
  return undefined;
}

/** Whether a `hello` offering `offer` accepts `codec`. */
export function offers(offer: readonly string[] | undefined, codec: Codec): boolean {
  return offer === undefined ? codec.name === DEFAULT_CODEC : offer.includes(codec.name);
}

/** Validate a `codecs` option: 1 to 8 codecs with distinct valid names, at construction (`TypeError`). */
export function checkCodecs(codecs: readonly Codec[], what = 'codecs'): readonly Codec[] {
  if (!Array.isArray(codecs) || codecs.length === 0 || codecs.length > MAX_CODECS_OFFERED) throw new TypeError(`Expected \`${what}\` to be an array of 1 to ${MAX_CODECS_OFFERED} codecs`);
  const names = new Set<string>();
  for (const codec of codecs as unknown[]) {
    const c = codec as Partial<Codec> | null;
    if (c === null || typeof c !== 'object' || typeof c.name !== 'string' || !CODEC_NAME.test(c.name) || typeof c.decode !== 'function') {
      throw new TypeError(`Expected every entry of \`${what}\` to be a Codec whose name is 1-32 characters of [a-z0-9-]`);
    }
    if (names.has(c.name)) throw new TypeError(`\`${what}\` names the codec ${c.name} twice`);
    names.add(c.name);
  }
  return Object.freeze([...codecs]);
}
