// The sections of issue 14 (semaphores and read-write locks), run by plan.mjs's `semaphore` and
// `rw` entries, on Redis and on PostgreSQL (issue 18). The first row of each is the one the
// others are divided by: the raw loop over dlock's semaphore protocol (Redis scripts, or the
// PostgreSQL admission function), and for the read-mostly workload the mutex.
import { rowOf } from './workloads/grid.mjs';
import { hotKey } from './workloads/hot-key.mjs';
import { readMostly } from './workloads/read-mostly.mjs';
import { uncontended } from './workloads/uncontended.mjs';

/** Permits of every semaphore key (each acquisition takes one). */
export const SEMAPHORE_LIMIT = 4;

const sem = (id, variant) => rowOf({ id, limit: SEMAPHORE_LIMIT, ...(variant ? { variant } : {}) });

/** redis-semaphore's Semaphore at its defaults and, with `withSweep`, at the profile's retry intervals. */
const semaphorePeers = (p, withSweep) => [
  sem('semaphore-semaphore'),
  ...(withSweep ? p.peerRetrySweep.map((ms) => sem('semaphore-semaphore', `retry:${ms}`)) : []),
];

export function semaphoreUncontended(ctx, p) {
  return uncontended(ctx, {
    id: 'uncontended-semaphore',
    title: `8a. Semaphore, Redis, uncontended (limit ${SEMAPHORE_LIMIT})`,
    rows: [
      { ...sem('raw-redis-semaphore'), baseline: true },
      sem('dlock-redis-semaphore'),
      ...semaphorePeers(p, false),
    ],
  });
}

export function semaphoreHot(ctx, p) {
  return hotKey(ctx, {
    id: 'hot-semaphore',
    title: `8b. Semaphore, Redis, hot key (limit ${SEMAPHORE_LIMIT})`,
    description:
      `32 workers in 2 processes on one key of ${SEMAPHORE_LIMIT} permits, one permit each, empty critical section; ` +
      'a hand-off is an acquisition of a permit another worker gave up (a worker that takes back its own freed permit re-takes it)',
    groups: [{ label: '32 in 2 processes', workers: 32, processes: 2 }],
    limit: SEMAPHORE_LIMIT,
    redisScripts: true,
    // The FIFO direct-grant prototype: the floor of a fair semaphore on one Redis.
    rows: [{ ...sem('raw-redis-semaphore'), baseline: true }, sem('dlock-redis-semaphore'), sem('raw-redis-fifo-semaphore'), ...semaphorePeers(p, true)],
  });
}

export function readMostlyRedis(ctx, p) {
  return readMostly(ctx, {
    id: 'read-mostly-redis',
    title: '9. Read-mostly, Redis: read-write lock vs mutex',
    workers: p.readMostly.workers,
    holdMs: p.readMostly.holdMs,
    readShares: p.readMostly.readShares,
    rows: [
      rowOf({ id: 'dlock-redis' }, true, { label: 'dlock RedisLock (every operation exclusive)' }),
      rowOf({ id: 'dlock-redis-rw' }, false, { label: 'dlock RedisReadWriteLock (reads shared)' }),
    ],
  });
}

export function semaphoreUncontendedPostgres(ctx) {
  return uncontended(ctx, {
    id: 'uncontended-semaphore-postgres',
    title: `8c. Semaphore, PostgreSQL, uncontended (limit ${SEMAPHORE_LIMIT})`,
    rows: [{ ...sem('raw-postgres-semaphore'), baseline: true }, sem('dlock-postgres-semaphore')],
  });
}

export function semaphoreHotPostgres(ctx) {
  return hotKey(ctx, {
    id: 'hot-semaphore-postgres',
    title: `8d. Semaphore, PostgreSQL, hot key (limit ${SEMAPHORE_LIMIT})`,
    description:
      `32 workers in 2 processes on one key of ${SEMAPHORE_LIMIT} permits, one permit each, empty critical section; ` +
      'each contender a pg.Pool of 10 per process and a LISTEN connection; ' +
      'a hand-off is an acquisition of a permit another worker gave up (a worker that takes back its own freed permit re-takes it)',
    groups: [{ label: '32 in 2 processes', workers: 32, processes: 2 }],
    limit: SEMAPHORE_LIMIT,
    rows: [{ ...sem('raw-postgres-semaphore'), baseline: true }, sem('dlock-postgres-semaphore')],
  });
}

export function readMostlyPostgres(ctx, p) {
  return readMostly(ctx, {
    id: 'read-mostly-postgres',
    title: '9b. Read-mostly, PostgreSQL: read-write lock vs mutex',
    workers: p.readMostly.workers,
    holdMs: p.readMostly.holdMs,
    readShares: p.readMostly.readShares,
    rows: [
      rowOf({ id: 'dlock-postgres' }, true, { label: 'dlock PostgresLock (every operation exclusive)' }),
      rowOf({ id: 'dlock-postgres-rw' }, false, { label: 'dlock PostgresReadWriteLock (reads shared)' }),
    ],
  });
}
