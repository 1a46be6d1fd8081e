/**
 * A walk over MessagePack bytes that reads headers only and builds nothing: it tells where one
 * value ends, or why it is refused, before anything is decoded. It is what bounds the decoder:
 * `@msgpack/msgpack` has no depth bound and allocates an array of the length its header declares,
 * so a 5-byte `array32` header of 4 billion entries, or 100,000 nested `fixarray`s, would cost
 * memory or the stack before any check. Here a declared length longer than the bytes left (every
 * entry takes at least one byte) is refused, and so is nesting deeper than the bound.
 *
 * It also keeps MessagePack to the JSON data model, so both codecs carry exactly the same frames:
 * no ext types (timestamps included), no binary, no non-finite floats, string map keys only, and
 * no `__proto__` key (which `@msgpack/msgpack` refuses anyway).
 */

/** Why the last `skim` failed: set on failure only. */
export let skimFailure = '';

const PROTO = [0x5f, 0x5f, 0x70, 0x72, 0x6f, 0x74, 0x6f, 0x5f, 0x5f]; // "__proto__"

function fail(why: string): number {
  skimFailure = why;
  return -1;
}

function isProto(b: Uint8Array, at: number, length: number): boolean {
  if (length !== 9) return false;
  for (let i = 0; i < 9; i++) if (b[at + i] !== PROTO[i]) return false;
  return true;
}

/**
 * The offset just past the value starting at `pos`, or -1 (reason in `skimFailure`) when it is
 * truncated, nests deeper than `maxDepth` arrays and maps, or leaves the JSON data model.
 */
export function skim(b: Uint8Array, pos: number, maxDepth: number): number {
  const end = b.length;
  // Per open container: entries left (a map counts its keys and values), and whether it is a map.
  const left: number[] = [];
  const isMap: boolean[] = [];
  let depth = 0;
  let view: DataView | undefined;
  for (;;) {
    if (pos >= end) return fail('truncated');
    const atKey = depth > 0 && isMap[depth - 1] === true && (left[depth - 1] as number) % 2 === 0;
    const c = b[pos++] as number;
    let count = -1; // entries of a container opened here; -1 for a scalar
    let map = false;
    let skip = 0; // bytes of the scalar after its header
    let strLength = -1;
    if (c <= 0x7f || c >= 0xe0) {
      // fixint
    } else if (c <= 0x8f) {
      count = c & 0x0f;
      map = true;
    } else if (c <= 0x9f) count = c & 0x0f;
    else if (c <= 0xbf) strLength = c & 0x1f;
    else {
      switch (c) {
        case 0xc0:
        case 0xc2:
        case 0xc3:
          break;
        case 0xc4:
        case 0xc5:
        case 0xc6:
          return fail('binary (bin 8/16/32) is not carried: frames hold the JSON data model');
        case 0xc7:
        case 0xc8:
        case 0xc9:
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8:
          return fail('ext types are not carried: frames hold the JSON data model');
        case 0xca:
        case 0xcb: {
          const size = c === 0xca ? 4 : 8;
          if (pos + size > end) return fail('truncated');
          view ??= new DataView(b.buffer, b.byteOffset, b.byteLength);
          if (!Number.isFinite(c === 0xca ? view.getFloat32(pos) : view.getFloat64(pos))) return fail('a float that is NaN or infinite (JSON has none)');
          skip = size;
          break;
        }
        case 0xcc:
        case 0xd0:
          skip = 1;
          break;
        case 0xcd:
        case 0xd1:
          skip = 2;
          break;
        case 0xce:
        case 0xd2:
          skip = 4;
          break;
        case 0xcf:
        case 0xd3:
          skip = 8;
          break;
        case 0xd9:
        case 0xda:
        case 0xdb:
        case 0xdc:
        case 0xdd:
        case 0xde:
        case 0xdf: {
          const size = c === 0xd9 ? 1 : c === 0xda || c === 0xdc || c === 0xde ? 2 : 4;
          if (pos + size > end) return fail('truncated');
          let n = 0;
          for (let i = 0; i < size; i++) n = n * 256 + (b[pos + i] as number);
          pos += size;
          if (c <= 0xdb) strLength = n;
          else {
            count = n;
            map = c >= 0xde;
          }
          break;
        }
        default:
          return fail('the reserved byte 0xc1');
      }
    }
    if (atKey) {
      if (strLength < 0) return fail('a map key that is not a string');
      if (pos + strLength <= end && isProto(b, pos, strLength)) return fail('the map key __proto__');
    }
    if (strLength >= 0) skip = strLength;
    if (count >= 0) {
      if (depth + 1 > maxDepth) return fail(`nested deeper than ${maxDepth} levels`);
      const entries = map ? count * 2 : count;
      if (entries > end - pos) return fail('a length longer than the bytes that follow');
      if (entries > 0) {
        left[depth] = entries;
        isMap[depth] = map;
        depth++;
        continue;
      }
    } else {
      if (skip > end - pos) return fail('a length longer than the bytes that follow');
      pos += skip;
    }
    // One value complete: count it against the containers it closes.
    while (depth > 0) {
      const rest = (left[depth - 1] as number) - 1;
      left[depth - 1] = rest;
      if (rest > 0) break;
      depth--;
    }
    if (depth === 0) return pos;
  }
}
