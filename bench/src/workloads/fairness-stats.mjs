// The figures of one fairness round, from every process's records (hot-loop.mjs, on the
// system-wide monotonic clock): throughput against the critical section's ceiling, waits, each
// process's share of the acquisitions, and how the lock passed from one holder to the next
// (release -> next acquisition, within a process or across processes).
import { percentile } from '../measure.mjs';
import { PROCESS_SPAN } from '../hot-round.mjs';

const median = (values) => percentile(values, 50);
const mean = (values) => (values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length);

/**
 * `parts`: one record per process, in process order (`{ times, holders, waits, releases, open }`,
 * releases[i] ends times[i]); `windowMs`: the window they were taken in.
 */
export function fairnessOf(parts, windowMs) {
  const seconds = windowMs / 1000;
  // [acquired at, process, released at], every process's acquisitions in one order.
  const order = parts
    .flatMap((p) => p.times.map((t, i) => [t, Math.floor(p.holders[i] / PROCESS_SPAN), p.releases[i][0]]))
    .sort((a, b) => a[0] - b[0]);
  const acquisitions = order.length;
  const insideMs = mean(order.map(([t, , out]) => (out - t) / 1000));
  const ceilingPerSecond = 1000 / insideMs;
  const waits = parts.flatMap((p) => [...p.waits, ...p.open]);
  const counts = parts.map((_, i) => order.filter(([, proc]) => proc === i).length);
  const shares = counts.map((n) => (acquisitions === 0 ? 0 : n / acquisitions));
  const even = 1 / parts.length;
  // The share farthest from an even split (the goal: within ±30 % of it, 50 ± 15 % for two).
  const worstShare = shares.reduce((w, s) => (Math.abs(s - even) > Math.abs(w - even) ? s : w), even);
  const crossGaps = [];
  const localGaps = [];
  let longestRun = acquisitions > 0 ? 1 : 0; // most acquisitions in a row by one process
  let run = longestRun;
  for (let i = 1; i < order.length; i++) {
    const cross = order[i][1] !== order[i - 1][1];
    (cross ? crossGaps : localGaps).push((order[i][0] - order[i - 1][2]) / 1000);
    run = cross ? 1 : run + 1;
    longestRun = Math.max(longestRun, run);
  }
  const handoffs = crossGaps.length + localGaps.length;
  return {
    acquisitionsPerSecond: acquisitions / seconds,
    insideMs,
    ceilingPerSecond,
    xCeiling: acquisitions / seconds / ceilingPerSecond,
    p50Ms: percentile(waits, 50),
    p99Ms: percentile(waits, 99),
    maxMs: waits.length === 0 ? Number.NaN : waits.reduce((a, b) => Math.max(a, b)),
    worstSharePct: worstShare * 100,
    crossPct: handoffs === 0 ? Number.NaN : (crossGaps.length / handoffs) * 100,
    crossGapMs: median(crossGaps),
    localGapMs: median(localGaps),
    longestRun,
    shares, // kept in the JSON's rounds, shown per round in the table
    counts,
  };
}
