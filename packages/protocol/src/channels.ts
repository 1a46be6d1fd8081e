/**
 * Channel names and the other bounds of the channel frames (docs/protocol.md, "Channels").
 *
 * A name is 1–255 characters from `A–Z a–z 0–9 _ : . - @ / # =`: enough for namespaces
 * (`room:42`, `prices/EURUSD`, `user#7`, `orders@desk=fx`), and nothing that JSON escapes, that
 * a Redis key or a URL path would have to quote, or that looks alike in another script: the
 * name a client sends is, byte for byte, the key the engine stores.
 */
export const maxChannelNameLength = 255;

const channelNamePattern = /^[A-Za-z0-9_:.\-@/#=]{1,255}$/;

/** Whether `name` is a valid channel name. */
export function isChannelName(name: unknown): name is string {
  return typeof name === 'string' && channelNamePattern.test(name);
}

/** Longest channel epoch, in characters (the reference engines use 21-character nanoids). */
export const maxEpochLength = 64;

/** Longest `gap.reason`, in characters. */
export const maxGapReasonLength = 64;
