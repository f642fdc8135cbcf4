// Workloads 2, 3, 4b, 7b and 8b: many workers on one key with an empty critical section, split over
// two processes (this one and the bench child): hand-offs per second within the window (see
// hot-loop.mjs: a re-take by the worker that just released is not a hand-off, on a semaphore
// too), the time those hand-offs waited (p50/p99, waits still open at the window's end
// included), and with `etcd` the etcd requests per hand-off (etcd's /metrics read at the
// window's start and end).
import { randomUUID } from 'node:crypto';
import { handoffsOf, nowUs } from '../hot-loop.mjs';
import { hotRound } from '../hot-round.mjs';
import { percentile, sleep } from '../measure.mjs';
import { etcdRequests, requestsBetween } from '../stats/etcd-metrics.mjs';
import { scriptCost } from '../stats/redis-info.mjs';
import { runGrid } from './grid.mjs';

/**
 * `limit`: a semaphore's permits (the lockers take one each); hand-offs are counted for it.
 * `redisScripts`: also the Lua scripts Redis ran per hand-off, and their server time.
 */
export function hotKey(ctx, { id, title, description, rows, groups, etcd = false, limit = 1, redisScripts = false }) {
  const { hotMs, drainMs, ttl } = ctx.profile;
  const metrics = [
    { key: 'handoffsPerSecond', label: 'hand-offs/s', digits: 0, ratio: 'higher' },
    { key: 'acquisitionsPerSecond', label: 'acquisitions/s', digits: 0 },
    { key: 'p50Ms', label: 'p50 hand-off wait ms', digits: 2 },
    { key: 'p99Ms', label: 'p99 hand-off wait ms', digits: 1, ratio: 'lower' },
  ];
  if (etcd) metrics.push({ key: 'etcdRequestsPerHandoff', label: 'etcd requests/hand-off', digits: 1, ratio: 'lower' });
  if (redisScripts) {
    metrics.push({ key: 'scriptsPerHandoff', label: 'Redis scripts/hand-off', digits: 1 });
    metrics.push({ key: 'scriptUsPerHandoff', label: 'Redis script µs/hand-off', digits: 0 });
  }
  return runGrid(
    ctx,
    { id, title, description: `${description}; ${hotMs} ms window per round`, groupLabel: 'workers', metrics },
    {
      groups,
      rows,
      async measure(spec, { workers, processes }) {
        const key = `hot:${randomUUID()}`;
        const sleepUntil = (atUs) => sleep(Math.max(0, (atUs - nowUs()) / 1000));
        // Server counters read at the window's start and end (in parallel with the workers).
        const alongside = (run) => {
          const scrape = async (atUs) => {
            await sleepUntil(atUs);
            return etcdRequests(ctx.env.etcdEndpoint);
          };
          return Promise.all([
            etcd ? Promise.all([scrape(run.startAtUs), scrape(run.startAtUs + hotMs * 1000)]) : undefined,
            redisScripts ? scriptCost(ctx.env.redisUrl, run.startAtUs, hotMs, sleepUntil) : undefined,
          ]);
        };
        const { parts, side } = await hotRound(ctx, spec, { workers, processes, params: { key, ttl }, windowMs: hotMs, drainMs, alongside });
        const [counters, scripts] = side;
        const { handoffs, waits } = handoffsOf(parts, workers, limit);
        const acquisitions = parts.reduce((n, p) => n + p.times.length, 0);
        const hung = parts.reduce((n, p) => n + p.hung, 0);
        const notes = [...parts.flatMap((p) => p.errors), ...(hung ? [`${hung} workers still inside acquire() ${drainMs} ms after the window: abandoned, their waits counted up to the window's end`] : [])];
        const result = {
          handoffsPerSecond: handoffs / (hotMs / 1000),
          acquisitionsPerSecond: acquisitions / (hotMs / 1000),
          p50Ms: percentile(waits, 50),
          p99Ms: percentile(waits, 99),
          errors: parts.reduce((n, p) => n + p.errorCount, 0),
          notes,
        };
        if (scripts) {
          const { calls, usec } = scripts;
          result.scriptsPerHandoff = calls / Math.max(1, handoffs);
          result.scriptUsPerHandoff = usec / Math.max(1, handoffs);
        }
        if (counters) {
          const [before, after] = counters;
          const requests = requestsBetween(before, after);
          result.etcdRequestsPerHandoff = requests.total / Math.max(1, handoffs);
          result.etcdRequestsByMethod = requests.byMethod; // kept in the JSON's rounds
        }
        return result;
      },
    },
  );
}
