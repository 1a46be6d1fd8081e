/**
 * Puts processes on one CPU for a phase, and back (Linux `taskset`; elsewhere nothing is pinned).
 * A round trip between two processes on this machine kind takes about 30 µs when the scheduler
 * has put them on one core and about 75 µs on two, and they stay where they are for a while. Raw
 * ws and Lifeline each have a server process of their own, so two medians read unpinned partly
 * compare where each pair landed: eight guard runs on 2026-12-08 read Lifeline's p50 at
 * 0.78–3.48× raw ws unpinned, sixteen on one CPU 1.36–1.60× (issue 14).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const TASKSET_MS = 5_000;

/** The CPU list `pid` may run on (`0,1`, `0-3`), or undefined where `taskset` is not there. */
function affinityOf(pid) {
  try {
    const out = execFileSync('taskset', ['-c', '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: TASKSET_MS });
    return /list:\s*(\S+)/.exec(out)?.[1];
  } catch {
    return undefined;
  }
}

/** Every thread of every process in `pids` on `cpus`; false (and nothing promised) when it failed. */
function pin(pids, cpus) {
  try {
    for (const pid of pids) execFileSync('taskset', ['-a', '-c', '-p', cpus, String(pid)], { stdio: 'ignore', timeout: TASKSET_MS });
    return true;
  } catch {
    return false;
  }
}

/** The CPUs of a `taskset` list (`0,1` → [0, 1], `2-4,7` → [2, 3, 4, 7]). */
function cpusOf(list) {
  const cpus = [];
  for (const part of list.split(',')) {
    const [from, to = from] = part.split('-').map(Number);
    for (let cpu = from; cpu <= to && cpus.length < 4096; cpu++) cpus.push(cpu);
  }
  return cpus;
}

/** Idle jiffies of each CPU (/proc/stat `cpuN`: idle + iowait), or undefined off Linux. */
function idleJiffies() {
  try {
    const idle = new Map();
    for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
      const m = /^cpu(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/.exec(line);
      if (m) idle.set(Number(m[1]), Number(m[5]) + Number(m[6]));
    }
    return idle;
  } catch {
    return undefined;
  }
}

/**
 * Of the CPUs in `list`, the one that was idle longest over the next `ms` (the first when that
 * cannot be read): a CPU another process keeps busy would make the pinned round trips wait for it
 * (a guard run right after a test run read 2.13× pinned to the first CPU, against 1.36–1.60×).
 */
async function idlestCpu(list, ms = 200) {
  const cpus = cpusOf(list);
  const before = idleJiffies();
  await sleep(ms);
  const after = idleJiffies();
  let best = cpus[0];
  let most = -1;
  for (const cpu of cpus) {
    const idle = (after?.get(cpu) ?? 0) - (before?.get(cpu) ?? 0);
    if (idle > most) {
      best = cpu;
      most = idle;
    }
  }
  return best === undefined ? undefined : String(best);
}

/**
 * Runs `fn` with every thread of `pids` and of this process on the idlest CPU this process may
 * use, and puts them back on all of those after (also after a pin that failed half-way).
 * Resolves `{ result, pinned }`; `pinned` is false where nothing could be pinned.
 */
export async function onOneCpu(pids, fn) {
  const cpus = affinityOf(process.pid);
  const one = cpus === undefined ? undefined : await idlestCpu(cpus);
  if (one === undefined) return { result: await fn(), pinned: false };
  const all = [...pids, process.pid];
  const pinned = pin(all, one);
  try {
    return { result: await fn(), pinned };
  } finally {
    pin(all, cpus);
  }
}
