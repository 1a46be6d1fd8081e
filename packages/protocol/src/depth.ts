/**
 * Whether JSON text nests at most `levels` arrays and objects, counted on the text before any
 * parse: a deeply nested value is cheap to write and expensive (or stack-overflowing) for
 * everything that walks it later. Used by the decoder on what arrives and by the JSON encoder on
 * what it is asked to send, so both sides count alike.
 */
export function nestsWithin(text: string, levels: number): boolean {
  if (text.length <= levels) return true; // too short to hold more than `levels` openings
  // Count the openings with indexOf (a native scan) rather than a loop over every character:
  // text rarely holds more than a few, and this runs for every message and every payload.
  let opens = 0;
  for (let i = text.indexOf('{'); i !== -1 && opens <= levels; i = text.indexOf('{', i + 1)) opens++;
  for (let i = text.indexOf('['); i !== -1 && opens <= levels; i = text.indexOf('[', i + 1)) opens++;
  if (opens <= levels) return true;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > levels) return false;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return true;
}
