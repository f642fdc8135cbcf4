// One process's share of a hot-key run: `workers` loops on one key with an empty critical
// section (or an awaited timer: the fairness workload), started at an agreed moment of the
// system-wide monotonic clock (process.hrtime), so both processes measure the same window and their acquisitions can be put in one order.
//
// Each acquisition inside the window is recorded as (time, worker, wait); the parent merges both
// processes' records and counts hand-offs: acquisitions by another worker than the previous
// holder (a worker that re-takes the lock it just released, while others wait, hands off
// nothing; on a semaphore, a worker that takes back its permit before anyone else acquired). Time to acquire is reported over hand-offs (a re-take waited for nobody), plus the
// waits still open when the window closes, counted up to then, so starved workers show in the p99.
import { createLocker } from './contenders.mjs';
import { errorText, sleep, within } from './measure.mjs';

/** Microseconds on the system-wide monotonic clock (the same in every process). */
export const nowUs = () => Number(process.hrtime.bigint() / 1000n);

/**
 * Creates the contender and warms it up (connections open, scripts loaded). `holdMs`: the
 * critical section, an awaited timer (0: empty, released at once).
 */
export async function prepareHot(spec, env, { key, workers, ttl, firstWorker = 0, holdMs = 0 }) {
  const locker = await within(15_000, createLocker(spec, env), `create ${spec.id}`);
  const warm = await within(15_000, locker.acquire(`${key}:warm:${process.pid}`, ttl), `warm-up ${spec.id}`);
  await warm();
  return {
    async run({ startAtUs, windowMs, drainMs, maxCount }) {
      await sleep(Math.max(0, (startAtUs - nowUs()) / 1000));
      while (nowUs() < startAtUs) await sleep(0);
      const end = startAtUs + windowMs * 1000;
      const times = [];
      const holders = [];
      const waits = []; // per recorded acquisition
      const releases = []; // [when release() was called, worker] of each recorded acquisition (releases[i] ends times[i])
      const open = []; // waits cut by the window's end
      const errors = [];
      const pending = new Map(); // worker -> when its current acquire started
      let total = 0;
      let stop = false;
      const worker = async (w) => {
        while (!stop && nowUs() < end && total < maxCount) {
          const t = nowUs();
          pending.set(w, t);
          let release;
          try {
            release = await locker.acquire(key, ttl);
          } catch (error) {
            pending.delete(w);
            // After the window a peer's retry wrapper gives up on purpose (giveUp): not an error.
            if (nowUs() < end) errors.push(errorText(error));
            if (errors.length > 50) stop = true;
            continue;
          }
          pending.delete(w);
          const got = nowUs();
          total++;
          if (got <= end) {
            times.push(got);
            holders.push(firstWorker + w);
            waits.push((got - t) / 1000);
          } else if (t < end) {
            open.push((end - t) / 1000);
          }
          if (holdMs > 0) await sleep(holdMs);
          if (got <= end) releases.push([nowUs(), firstWorker + w]);
          try {
            await release();
          } catch (error) {
            errors.push(errorText(error));
          }
        }
      };
      const all = Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
      // Once the window is over, a peer's retry wrapper stops retrying after its current attempt.
      const giveUp = setTimeout(() => locker.giveUp?.(), Math.max(0, (end - nowUs()) / 1000));
      const finished = await Promise.race([all.then(() => true), sleep(windowMs + drainMs).then(() => false)]);
      stop = true;
      clearTimeout(giveUp);
      for (const t of pending.values()) if (t < end) open.push((end - t) / 1000);
      return { times, holders, waits, releases, open, total, errors: errors.slice(0, 3), errorCount: errors.length, hung: finished ? 0 : pending.size };
    },
    close: () => within(10_000, locker.close(), `close ${spec.id}`).catch(() => undefined),
  };
}

/**
 * Merges the acquisitions of all processes (each `{ times, holders, waits, releases, open }`) in
 * time order: the number of hand-offs, and the waits of the hand-offs plus the open waits. With
 * one worker every acquisition counts. A mutex (`limit` 1): an acquisition by another worker
 * than the previous one is a hand-off. A semaphore of `limit` permits: each release frees a
 * permit marked with its worker; an acquisition by a worker whose own freed permit is still free
 * takes it back (a re-take, as on a mutex), any other takes a permit someone else gave up (a
 * hand-off). The first `limit` permits, never held, are not hand-offs.
 */
export function handoffsOf(parts, workers, limit = 1) {
  const waits = parts.flatMap((p) => p.open);
  const acquisitions = parts.flatMap((p) => p.times.map((t, i) => [t, 1, p.holders[i], p.waits[i]]));
  let handoffs = 0;
  const handOff = (wait) => {
    handoffs++;
    waits.push(wait);
  };
  if (workers === 1 || limit === 1) {
    acquisitions.sort((a, b) => a[0] - b[0]);
    acquisitions.forEach(([, , holder, wait], i) => {
      if (workers === 1 || (i > 0 && holder !== acquisitions[i - 1][2])) handOff(wait);
    });
    return { handoffs, waits };
  }
  // At the same microsecond an acquisition sorts first (its own release may follow within it).
  const events = [...acquisitions, ...parts.flatMap((p) => (p.releases ?? []).map(([t, w]) => [t, 0, w]))];
  events.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  let fresh = limit; // permits nobody held yet
  const free = []; // the worker that freed each free permit, oldest first
  for (const [, acquired, worker, wait] of events) {
    if (!acquired) {
      free.push(worker);
      // Times are taken in two processes: never more free permits than the limit.
      if (free.length + fresh > limit) free.shift();
      continue;
    }
    const own = free.lastIndexOf(worker);
    if (own >= 0) free.splice(own, 1);
    else if (fresh > 0) fresh--;
    else {
      free.pop(); // another worker's (none left: a release recorded late; a hand-off all the same)
      handOff(wait);
    }
  }
  return { handoffs, waits };
}
