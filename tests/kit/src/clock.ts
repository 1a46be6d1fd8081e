/** A clock the test moves by hand, for `now` options. */
export function manualClock(start = 0): { now: () => number; advance: (ms: number) => void; set: (at: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms), set: (at) => void (t = at) };
}
