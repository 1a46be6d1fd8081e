/** Bounds the decoder enforces; a frame outside them is a protocol error (close code 4400). */
export interface DecodeLimits {
  /** Most frames in one batch. @default 4096 */
  maxFrames: number;
  /** Deepest nesting of arrays and objects in one frame, its own object included (a batch's array does not count). @default 64 */
  maxDepth: number;
  /** Longest message id, in characters. @default 128 */
  maxIdLength: number;
  /** Longest string field other than payloads (tokens, reasons, codes), in characters. @default 1024 */
  maxStringLength: number;
}

export const decodeDefaults: Readonly<DecodeLimits> = Object.freeze({
  maxFrames: 4096,
  maxDepth: 64,
  maxIdLength: 128,
  maxStringLength: 1024,
});
