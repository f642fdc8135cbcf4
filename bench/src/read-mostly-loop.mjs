// One process's share of a read-mostly run: `workers` loops on one key, each operation a read
// (with probability `readShare`) or a write, holding the lock for an awaited `holdMs` timer.
// A locker with acquireRead() (a read-write lock) reads under it; any other takes every
// operation exclusively. The window starts at an agreed moment of the system-wide monotonic
// clock, as in hot-loop.mjs, so both processes' records can be put in one order.
//
// Each operation inside the window records its wait and the interval it held the lock (from
// acquire() resolving to release() being called, inside the server's hold), so the parent can
// check that no exclusive interval overlapped any other.
import { createLocker } from './contenders.mjs';
import { nowUs } from './hot-loop.mjs';
import { errorText, sleep, within } from './measure.mjs';

/** A small seeded generator (mulberry32): every contender sees the same sequence of reads and writes. */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Creates the contender and warms it up (a write, and a read if it has reads). */
export async function prepareReadMostly(spec, env, { key, workers, ttl, firstWorker = 0, readShare, holdMs }) {
  const locker = await within(15_000, createLocker(spec, env), `create ${spec.id}`);
  const warmKey = `${key}:warm:${process.pid}`;
  await (await within(15_000, locker.acquire(warmKey, ttl), `warm-up ${spec.id}`))();
  if (locker.acquireRead) await (await within(15_000, locker.acquireRead(warmKey, ttl), `warm-up read ${spec.id}`))();
  return {
    async run({ startAtUs, windowMs, drainMs }) {
      await sleep(Math.max(0, (startAtUs - nowUs()) / 1000));
      while (nowUs() < startAtUs) await sleep(0);
      const end = startAtUs + windowMs * 1000;
      const ops = []; // [got µs, left µs, exclusive 0/1, read 0/1, wait ms] per operation in the window
      const open = { read: [], write: [] }; // waits cut by the window's end
      const errors = [];
      const pending = new Map(); // worker -> [started µs, read]
      let stop = false;
      const worker = async (w) => {
        const next = random(firstWorker + w + 1);
        while (!stop && nowUs() < end) {
          const read = next() < readShare;
          const exclusive = !(read && locker.acquireRead);
          const t = nowUs();
          pending.set(w, [t, read]);
          let release;
          try {
            release = await (exclusive ? locker.acquire(key, ttl) : locker.acquireRead(key, ttl));
          } catch (error) {
            pending.delete(w);
            if (nowUs() < end) errors.push(errorText(error));
            if (errors.length > 50) stop = true;
            continue;
          }
          pending.delete(w);
          const got = nowUs();
          if (got > end && t < end) open[read ? 'read' : 'write'].push((end - t) / 1000);
          await sleep(holdMs);
          if (got <= end) ops.push([got, nowUs(), exclusive ? 1 : 0, read ? 1 : 0, (got - t) / 1000]);
          try {
            await release();
          } catch (error) {
            errors.push(errorText(error));
          }
        }
      };
      const all = Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
      const finished = await Promise.race([all.then(() => true), sleep(windowMs + drainMs).then(() => false)]);
      stop = true;
      for (const [t, read] of pending.values()) if (t < end) open[read ? 'read' : 'write'].push((end - t) / 1000);
      return { ops, open, errors: errors.slice(0, 3), errorCount: errors.length, hung: finished ? 0 : pending.size };
    },
    close: () => within(10_000, locker.close(), `close ${spec.id}`).catch(() => undefined),
  };
}

/**
 * Intervals (`[start, end, exclusive]`, of every process) during which an exclusive holder
 * overlapped another holder: 0 for a correct lock.
 */
export function overlapsOf(intervals) {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  let overlaps = 0;
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i + 1; j < sorted.length && sorted[j][0] < sorted[i][1]; j++) {
      if (sorted[i][2] || sorted[j][2]) overlaps++;
    }
  }
  return overlaps;
}
