// Measurement helpers: bounded loops (count and time), repeated rounds, medians, percentiles.
import { setTimeout as sleep } from 'node:timers/promises';

/** Runs `op(i, worker)` with `concurrency` workers until `count` operations or `maxMs` elapse. */
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
  return { median: medianOf(values), runs: values };
}

/** The median of numbers (NaN when empty); the upper middle for an even count. */
export function medianOf(values) {
  const v = values.filter((x) => typeof x === 'number' && !Number.isNaN(x)).sort((a, b) => a - b);
  return v.length === 0 ? Number.NaN : v[Math.floor(v.length / 2)];
}

/** p-th percentile (0..100) of an unsorted array of numbers. */
export function percentile(values, p) {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * Interleaved rounds: round 1 measures every item, then round 2 every item, ... so that a noisy
 * stretch of time hurts all items alike. `measure(item, round)` returns an object of numbers (or
 * `{ skipped }` / throws); the result maps each item to `{ runs: [...], median: {field: median} }`.
 */
export async function interleaved(repeats, items, measure, { onRun } = {}) {
  const out = new Map(items.map((item) => [item, { runs: [], errors: [] }]));
  for (let round = 0; round < repeats; round++) {
    for (const item of items) {
      const slot = out.get(item);
      if (slot.skipped) continue;
      try {
        const r = await measure(item, round);
        if (r && r.skipped) slot.skipped = r.skipped;
        else slot.runs.push(r);
        onRun?.(item, r);
      } catch (error) {
        slot.errors.push(errorText(error));
        onRun?.(item, { error: errorText(error) });
      }
    }
  }
  for (const slot of out.values()) slot.median = medianFields(slot.runs);
  return out;
}

/** Field-wise medians of an array of flat objects of numbers. */
export function medianFields(runs) {
  if (runs.length === 0) return undefined;
  const fields = new Set(runs.flatMap((r) => Object.keys(r).filter((k) => typeof r[k] === 'number')));
  return Object.fromEntries([...fields].map((f) => [f, medianOf(runs.map((r) => r[f]))]));
}

/** A one-line description of an error (name, message, first cause). */
export function errorText(error) {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? ` (cause: ${error.cause.message})` : '';
  return `${error.name}: ${error.message.split('\n')[0]}${cause}`.slice(0, 300);
}

/** Resolves `promise`, or rejects after `ms` with a message naming `what`. */
export async function within(ms, promise, what) {
  let timer;
  try {
    return await Promise.race([
      promise,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export { sleep };
