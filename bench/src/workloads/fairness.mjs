// Workload 10 (issue 19): hot-key fairness across processes. Workers in several processes loop on
// one key, each holding the lock for an awaited ~2 ms timer (a critical section that is not
// empty, so a worker that releases wants the lock again at once, as real work does). Per round:
// acquisitions per second against the ceiling (1 / the mean measured time inside the critical
// section), waits of every acquisition (p50/p99/max, waits still open at the window's end
// counted up to then), each process's share of the acquisitions, and how the lock passed on
// (how often to another process, the time from a release to the next acquisition).
import { randomUUID } from 'node:crypto';
import { hotRound } from '../hot-round.mjs';
import { addFairnessGoals } from './fairness-goals.mjs';
import { fairnessOf } from './fairness-stats.mjs';
import { rowOf, runGrid } from './grid.mjs';

const HOLD_MS = 2;

const groups = [
  { label: '16 in 2 processes', workers: 16, processes: 2, waitGoals: true },
  { label: '64 in 4 processes', workers: 64, processes: 4 },
];

/** dlock's locks, fair and not, and the Redis peers at their defaults and their `retry` settings. */
function rows(retry) {
  const peers = ['redlock4', 'redlock5', 'sesame', 'semaphore-mutex', 'redlock-universal'];
  return [
    // The floor of a fair lock on one Redis: one script call per hand-off, no acquire after it.
    rowOf({ id: 'raw-redis-fifo' }, true),
    rowOf({ id: 'dlock-redis' }, false, { settings: 'defaults (fair)' }),
    rowOf({ id: 'dlock-redis', variant: 'unfair' }),
    rowOf({ id: 'dlock-etcd' }),
    rowOf({ id: 'dlock-etcd', variant: 'lock' }),
    rowOf({ id: 'dlock-redlock', nodes: 3 }, false, { settings: '3 nodes' }),
    rowOf({ id: 'dlock-postgres' }),
    ...peers.flatMap((id) => [rowOf({ id }), ...retry.map((ms) => rowOf({ id, variant: `retry:${ms}` }))]),
  ];
}

const metrics = [
  { key: 'acquisitionsPerSecond', label: 'acquisitions/s', digits: 0 },
  { key: 'ceilingPerSecond', label: 'ceiling/s', digits: 0 },
  { key: 'xCeiling', label: 'x ceiling', digits: 2 },
  { key: 'p50Ms', label: 'p50 wait ms', digits: 1 },
  { key: 'p99Ms', label: 'p99 wait ms', digits: 0 },
  { key: 'maxMs', label: 'max wait ms', digits: 0 },
  { key: 'crossPct', label: 'next holder in another process %', digits: 0 },
  { key: 'crossGapMs', label: 'release to next acquisition, across processes, p50 ms', digits: 2 },
  { key: 'localGapMs', label: 'same, within a process, p50 ms', digits: 2 },
];

export async function fairness(ctx, p) {
  const { drainMs, ttl } = ctx.profile;
  const { windowMs, peerRetry } = p.fairness;
  const section = await runGrid(
    ctx,
    {
      id: 'fairness',
      title: '10. Hot-key fairness across processes, Redis, etcd, PostgreSQL',
      description:
        `N workers split evenly over processes on one key, each holding the lock for an awaited ${HOLD_MS} ms timer, then asking again; ` +
        `${windowMs} ms window per round; ceiling = 1 / the mean measured time inside the critical section; waits = every acquisition's ` +
        'wait plus the waits still open at the window\'s end (counted up to it: a wait as long as the window is a worker that got nothing in it); shares = each process\'s part of the acquisitions (process 1/2/...), ' +
        'worst share = the share farthest from an even split over all rounds; numbers are medians over rounds',
      groupLabel: 'workers',
      metrics,
    },
    {
      groups,
      rows: rows(peerRetry),
      async measure(spec, { workers, processes }) {
        const params = { key: `fair:${randomUUID()}`, ttl, holdMs: HOLD_MS };
        const { parts } = await hotRound(ctx, spec, { workers, processes, params, windowMs, drainMs });
        const hung = parts.reduce((n, part) => n + part.hung, 0);
        return {
          ...fairnessOf(parts, windowMs),
          errors: parts.reduce((n, part) => n + part.errorCount, 0),
          notes: [
            ...parts.flatMap((part) => part.errors),
            ...(hung ? [`${hung} workers still inside acquire() ${drainMs} ms after the window: abandoned, their waits counted up to the window's end`] : []),
          ],
        };
      },
    },
  );
  return addFairnessGoals(section, groups);
}
