/**
 * Puts processes on one CPU for a phase, and back (Linux `taskset`; elsewhere nothing is pinned).
 * A round trip between two processes on this machine kind takes about 30 µs when the scheduler
 * has put them on one core and about 75 µs on two, and they stay where they are for a while. Raw
 * ws and Lifeline each have a server process of their own, so two medians read unpinned partly
 * compare where each pair landed: eight guard runs on 2026-12-08 read Lifeline's p50 at
 * 0.78–3.48× raw ws unpinned, six on one CPU 1.36–1.60× (issue 14).
 */
import { execFileSync } from 'node:child_process';

const TASKSET_MS = 5_000;

/** The CPU list `pid` may run on (`0,1`, `0-3`), or undefined where `taskset` is not there. */
export function affinityOf(pid) {
  try {
    const out = execFileSync('taskset', ['-c', '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: TASKSET_MS });
    return /list:\s*(\S+)/.exec(out)?.[1];
  } catch {
    return undefined;
  }
}

/** Every thread of every process in `pids` on `cpus`; false (and nothing promised) when it failed. */
export function pin(pids, cpus) {
  try {
    for (const pid of pids) execFileSync('taskset', ['-a', '-c', '-p', cpus, String(pid)], { stdio: 'ignore', timeout: TASKSET_MS });
    return true;
  } catch {
    return false;
  }
}

/** The first CPU of a `taskset` list (`0,1` → `0`, `2-5` → `2`). */
export function firstCpu(list) {
  return /^\d+/.exec(list)?.[0];
}
