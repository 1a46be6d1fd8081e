/**
 * The measurements, written once against the peer interface every peers/*.mjs returns:
 * `fire()` sends one payload; `onAck()` is called once per acknowledgement (or echo);
 * `onError(e)` on failure; `unflushed()` is what is still buffered before the kernel.
 * Every measurement has a deadline and rejects with `DeadlineError` when it passes.
 */
import hdr from 'hdr-histogram-js';
import { sleep, until, withDeadline } from './deadline.mjs';

/** Percentiles drawn in the latency chart (beyond p99.9 a few thousand samples say nothing). */
export const CURVE_PERCENTILES = [50, 75, 90, 95, 99, 99.5, 99.9];

const gc = () => globalThis.gc?.();

/**
 * Pipelined: keep `window` messages outstanding until `n` are acked. The first `window` sends go
 * out in one synchronous loop; after that each ack sends exactly one more, from inside the ack
 * callback (a refill of one per ack, never a batch refill), so the sends follow the acks' arrival.
 * Resolves with `{ ms, cpuUs, perSecond, cpuUsPerMsg }` (client process CPU, user + system).
 */
export function pipelined(peer, n, window, deadlineMs) {
  gc();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const run = new Promise((resolve, reject) => {
    let sent = 0;
    let acked = 0;
    peer.onError = reject;
    peer.onAck = () => {
      acked++;
      if (sent < n) {
        sent++;
        peer.fire();
      } else if (acked === n) resolve();
    };
    const first = Math.min(window, n);
    while (sent < first) {
      sent++;
      peer.fire();
    }
  });
  return withDeadline(run, deadlineMs, `pipelined ${n}`).then(() => {
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const cpuUs = cpu.user + cpu.system;
    return { n, window, ms, cpuUs, perSecond: (n / ms) * 1000, cpuUsPerMsg: cpuUs / n };
  });
}

/**
 * All at once: fire `n` sends in one synchronous loop, then time until all `n` are acked (from
 * before the first send). No window of our own: whatever limits the flow is the peer's.
 * Resolves with `{ n, ms, cpuUs, perSecond, cpuUsPerMsg }` (this process's CPU, user + system).
 */
export function burst(peer, n, deadlineMs) {
  gc();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const run = new Promise((resolve, reject) => {
    let acked = 0;
    peer.onError = reject;
    peer.onAck = () => {
      if (++acked === n) resolve();
    };
    for (let i = 0; i < n; i++) peer.fire();
  });
  return withDeadline(run, deadlineMs, `all at once ${n}`).then(() => {
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const cpuUs = cpu.user + cpu.system;
    return { n, ms, cpuUs, perSecond: (n / ms) * 1000, cpuUsPerMsg: cpuUs / n };
  });
}

export function newHistogram() {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
}

/**
 * Sequential: one message at a time, `n` round trips, each recorded in µs into `histogram`.
 * A full GC is forced first unless `collect` is false.
 */
export function sequential(peer, n, deadlineMs, histogram = newHistogram(), { collect = true } = {}) {
  if (collect) gc();
  const run = new Promise((resolve, reject) => {
    let i = 0;
    let t0 = 0;
    peer.onError = reject;
    peer.onAck = () => {
      const us = (performance.now() - t0) * 1000;
      histogram.recordValue(Math.max(1, Math.round(us)));
      if (++i >= n) return resolve();
      t0 = performance.now();
      peer.fire();
    };
    t0 = performance.now();
    peer.fire();
  });
  return withDeadline(run, deadlineMs, `sequential ${n}`).then(() => histogram);
}

/**
 * Sequential latency read twice, after the same warm-up: `afterGc`, the `latencyMessages` round
 * trips right after a forced full GC (what this bench published until issue 14's stop 26), and
 * `latency`, as many more once `latencySettle` further trips have run with no GC forced.
 * Why both: a full GC collects the hidden classes (V8 maps) of every kind of object that has
 * none alive at that moment (between phases: every message record, parsed frame and write
 * request) and deoptimizes the code built on them; the round trips after it run while V8
 * compiles that code again, in threads that share the machine's two cores with the measured
 * ones. `--trace-deopt` after each such GC: about 15 functions of Lifeline's send path
 * deoptimized ("weak objects": `enqueue`, `encode`, the `Outgoing` constructor, …), 7 of Node's
 * stream writer ("wrong map"). Round trips over 200 µs per 1,000 after the GC, in one process
 * pinned to one core: 29, 16, 6, then 2–7 (Lifeline); 8, 12, 7, then 3–4 (raw ws).
 */
export async function latencies(peer, params) {
  const { latencyMessages: n, latencySettle: settle, phaseMs } = params;
  await sequential(peer, n, phaseMs);
  const cold = summarize(await sequential(peer, n, phaseMs));
  const latency = await settledLatency(peer, settle, n, phaseMs, { collect: false });
  return { latency, afterGc: { p50: cold.p50, p99: cold.p99, p999: cold.p999, mean: cold.mean } };
}

/**
 * `n` sequential round trips read after `settle` more, one forced GC before both unless
 * `collect` is false (`latencies`, which continues from the GC of its right-after set). The
 * guard and the `paired` task call it as it is, alternating peers.
 */
export async function settledLatency(peer, settle, n, deadlineMs, { collect = true } = {}) {
  await sequential(peer, settle, deadlineMs, undefined, { collect });
  return summarize(await sequential(peer, n, deadlineMs, undefined, { collect: false }));
}

export function summarize(histogram) {
  const at = (p) => histogram.getValueAtPercentile(p);
  return {
    count: histogram.totalCount,
    mean: histogram.mean,
    p50: at(50),
    p90: at(90),
    p99: at(99),
    p999: at(99.9),
    max: histogram.maxValue,
    curve: CURVE_PERCENTILES.map((p) => [p, at(p)]),
  };
}

/**
 * Fire `n` sends in slices of 1000 (yielding between them so the socket writes), then wait until
 * nothing is left unwritten: what `inflightMemory` and `inflight-breakdown.mjs` measure.
 */
export async function fillInFlight(peer, n, deadlineMs) {
  const fire = async () => {
    for (let sent = 0; sent < n; ) {
      const slice = Math.min(1000, n - sent);
      for (let i = 0; i < slice; i++) peer.fire();
      sent += slice;
      await new Promise((resolve) => setImmediate(resolve));
    }
    await until(() => peer.unflushed() === 0, deadlineMs, 'socket flush', 10);
    await sleep(100);
  };
  await withDeadline(fire(), deadlineMs, `in-flight ${n}`);
}

/**
 * Memory per in-flight message: `n` sends the server never answers (`fillInFlight`), then a
 * forced GC, and the heap growth divided by `n`. Also reports the growth of external memory (buffers).
 */
export async function inflightMemory(peer, n, deadlineMs) {
  peer.onAck = () => {};
  peer.onError = () => {};
  gc();
  gc();
  const before = process.memoryUsage();
  await fillInFlight(peer, n, deadlineMs);
  gc();
  gc();
  const after = process.memoryUsage();
  return {
    n,
    heapBytesPerMsg: (after.heapUsed - before.heapUsed) / n,
    externalBytesPerMsg: (after.external - before.external) / n,
  };
}

/**
 * Replay after a reconnect, through the fault proxy of `server` (a server-child handle).
 * 1. fresh: send `n` at once on a live link, time until all are acked;
 * 2. replay: block the server's answers, send `n` at once, wait until the proxy has carried all
 *    the client wrote, then cut every connection and release the server at once (its answers are
 *    lost with the link). Time from the client's reconnection to all `n` acked.
 */
export async function replay(peer, server, n, deadlineMs) {
  const burst = () => {
    let acked = 0;
    let failed;
    const all = new Promise((resolve, reject) => {
      failed = reject;
      peer.onAck = () => {
        if (++acked === n) resolve(performance.now());
      };
    });
    peer.onError = failed;
    for (let i = 0; i < n; i++) peer.fire();
    return { all, acked: () => acked };
  };

  const t0 = performance.now();
  const fresh = burst();
  const freshDone = await withDeadline(fresh.all, deadlineMs, `fresh ${n}`);
  const freshMs = freshDone - t0;

  await server.request('block');
  const upBefore = (await server.request('bytes')).up;
  const held = burst();
  // Bytes the client wrote for the held burst before the cut: how much of it reached the server.
  const bytesBeforeCut = (await writtenThrough(server, deadlineMs)) - upBefore;
  const ackedBeforeCut = held.acked();
  const reconnected = peer.nextReconnect();
  const cutAt = performance.now();
  const cut = await server.request('cut-release');
  const reconnectAt = await withDeadline(reconnected, deadlineMs, 'reconnect');
  const done = await withDeadline(held.all, deadlineMs, `replay ${n}`);
  return {
    n,
    freshMs,
    replayMs: done - reconnectAt,
    cutToDoneMs: done - cutAt,
    ackedBeforeCut,
    bytesBeforeCut,
    connectionsCut: cut,
  };
}

/** Waits until the proxy's client→server byte count stops growing for 100 ms. */
async function writtenThrough(server, deadlineMs) {
  const end = performance.now() + deadlineMs;
  let last = -1;
  let stableSince = performance.now();
  while (performance.now() < end) {
    const { up } = await server.request('bytes');
    if (up !== last) {
      last = up;
      stableSince = performance.now();
    } else if (performance.now() - stableSince >= 100) return up;
    await sleep(20);
  }
  throw new Error('proxy traffic did not settle');
}
