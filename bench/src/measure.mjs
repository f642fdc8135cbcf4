// Measurement helpers: run a workload for a bounded count and time, repeat, report the median.

/** Runs `op` with `concurrency` workers until `count` operations or `maxMs` elapse. */
export async function throughput(op, { concurrency = 1, count = 5_000, maxMs = 3_000 } = {}) {
  let done = 0;
  let started = 0;
  const t0 = performance.now();
  const deadline = t0 + maxMs;
  const worker = async (w) => {
    while (started < count && performance.now() < deadline) {
      const i = started++;
      await op(i, w);
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const seconds = (performance.now() - t0) / 1000;
  return { ops: done, seconds, perSecond: done / seconds };
}

/** Median of `repeats` runs of `measure()` (each returning a number). */
export async function median(repeats, measure) {
  const values = [];
  for (let i = 0; i < repeats; i++) values.push(await measure());
  values.sort((a, b) => a - b);
  return { median: values[Math.floor(values.length / 2)], runs: values };
}

/** p-th percentile (0..100) of an unsorted array of numbers. */
export function percentile(values, p) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
