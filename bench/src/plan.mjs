// Which contenders run in which workload, in report order. The first row of each section is the
// raw protocol every other row is divided by.
import { rowOf } from './workloads/grid.mjs';
import { hotKey } from './workloads/hot-key.mjs';
import { registration } from './workloads/registration.mjs';
import { uncontended } from './workloads/uncontended.mjs';
import { watchdog } from './workloads/watchdog.mjs';

const sweep = (id, ms, extra = {}) => ms.map((m) => rowOf({ id, variant: `retry:${m}`, ...extra }));

const redisPeers = (p, withSweep) => [
  rowOf({ id: 'redlock4' }),
  ...(withSweep ? sweep('redlock4', p.peerRetrySweep) : []),
  rowOf({ id: 'redlock5' }),
  ...(withSweep ? sweep('redlock5', p.peerRetrySweep) : []),
  rowOf({ id: 'sesame' }),
  ...(withSweep ? sweep('sesame', p.peerRetrySweep) : []),
  rowOf({ id: 'semaphore-mutex' }),
  ...(withSweep ? sweep('semaphore-mutex', p.peerRetrySweep) : []),
  rowOf({ id: 'redlock-universal' }),
  // Uncontended its best setting is 'lean' (no PING per new lock object), on the hot key a short retry.
  ...(withSweep ? sweep('redlock-universal', p.peerRetrySweep) : [rowOf({ id: 'redlock-universal', variant: 'lean' })]),
];

const redlockRows = (p, nodes, withSweep) => [
  rowOf({ id: 'raw-redlock', nodes }, true),
  rowOf({ id: 'dlock-redlock', nodes }),
  rowOf({ id: 'dlock-redlock', nodes, variant: 'nofence' }),
  ...['redlock4', 'redlock5', 'sesame', 'semaphore-redlock', 'redlock-universal-redlock'].flatMap((id) => [
    rowOf({ id, nodes }),
    ...(withSweep ? sweep(id, p.redlockRetrySweep, { nodes }) : []),
  ]),
];

/** The sections, each `{ id, run(ctx) }`, for a profile. */
export function plan(p) {
  const hotGroups = [{ label: '32 in 2 processes', workers: 32, processes: 2 }];
  return [
    {
      id: 'uncontended',
      run: (ctx) =>
        uncontended(ctx, {
          id: 'uncontended-redis',
          title: '1a. Uncontended, Redis',
          rows: [
            rowOf({ id: 'raw-redis' }, true),
            rowOf({ id: 'raw-redis-dlock-lua' }),
            rowOf({ id: 'dlock-redis' }),
            ...redisPeers(p, false),
          ],
        }),
    },
    {
      id: 'uncontended',
      run: (ctx) =>
        uncontended(ctx, {
          id: 'uncontended-etcd',
          title: '1b. Uncontended, etcd',
          rows: [
            rowOf({ id: 'raw-etcd' }, true),
            rowOf({ id: 'dlock-etcd' }),
            rowOf({ id: 'dlock-etcd', variant: 'lock' }),
            rowOf({ id: 'etcd3-lock' }),
          ],
        }),
    },
    {
      id: 'hot',
      run: (ctx) =>
        hotKey(ctx, {
          id: 'hot-redis',
          title: '2. Hot key, Redis',
          description: '32 workers in 2 processes on one key, empty critical section',
          groups: hotGroups,
          rows: [
            rowOf({ id: 'raw-redis-pubsub' }, true),
            rowOf({ id: 'dlock-redis' }),
            rowOf({ id: 'dlock-redis', variant: 'unfair' }),
            rowOf({ id: 'dlock-redis', variant: 'coalesce' }),
            rowOf({ id: 'dlock-redis', variant: 'handover' }),
            ...redisPeers(p, true),
          ],
        }),
    },
    {
      id: 'etcd-hot',
      run: (ctx) =>
        hotKey(ctx, {
          id: 'hot-etcd',
          title: '3. Hot key, etcd',
          description: 'N waiters on one key (split over 2 processes from 2 waiters on), empty critical section; etcd requests = gRPC messages etcd received during the window (txn, range, lease, keep-alive and watch messages) / hand-offs',
          etcd: true,
          groups: p.etcdWaiters.map((n) => ({ label: String(n), workers: n, processes: n > 1 ? 2 : 1 })),
          rows: [
            rowOf({ id: 'raw-etcd-queue' }, true),
            rowOf({ id: 'dlock-etcd' }),
            rowOf({ id: 'dlock-etcd', variant: 'lock' }),
            rowOf({ id: 'etcd3-lock' }),
            ...sweep('etcd3-lock', p.etcdRetrySweep),
          ],
        }),
    },
    ...p.redlockNodes.flatMap((nodes) => [
      {
        id: 'redlock',
        run: (ctx) =>
          uncontended(ctx, {
            id: `uncontended-redlock-${nodes}`,
            title: `4a. Redlock, ${nodes} nodes, uncontended`,
            rows: redlockRows(p, nodes, false),
          }),
      },
      {
        id: 'redlock',
        run: (ctx) =>
          hotKey(ctx, {
            id: `hot-redlock-${nodes}`,
            title: `4b. Redlock, ${nodes} nodes, hot key`,
            description: '32 workers in 2 processes on one key, empty critical section',
            groups: hotGroups,
            rows: redlockRows(p, nodes, true),
          }),
      },
    ]),
    {
      id: 'watchdog',
      run: (ctx) =>
        watchdog(ctx, {
          rows: [
            rowOf({ id: 'raw-redis' }, true, { label: 'raw: one pipeline of EVALSHA renewals per tick', settings: 'timer every TTL/3' }),
            rowOf({ id: 'dlock-redis' }, false, { settings: 'lock.autoRenew (batched watchdog)' }),
            rowOf({ id: 'semaphore-mutex' }, false, { settings: 'refresh timer per lock, 0.8 x TTL' }),
            rowOf({ id: 'redlock5' }, false, { settings: 'using(), extends 500 ms before expiry' }),
          ],
        }),
    },
    { id: 'registration', run: (ctx) => registration(ctx) },
    {
      id: 'postgres',
      run: (ctx) =>
        uncontended(ctx, {
          id: 'uncontended-postgres',
          title: '7a. Uncontended, PostgreSQL',
          rows: [rowOf({ id: 'raw-postgres' }, true), rowOf({ id: 'dlock-postgres' })],
        }),
    },
    {
      id: 'postgres',
      run: (ctx) =>
        hotKey(ctx, {
          id: 'hot-postgres',
          title: '7b. Hot key, PostgreSQL',
          description:
            '32 workers in 2 processes on one key, empty critical section; pg_advisory_lock holds a connection per waiter (32), ' +
            'the others a pg.Pool of 10 per process (PostgresLock also its LISTEN connection)',
          groups: hotGroups,
          rows: [
            rowOf({ id: 'raw-postgres-advisory' }, true),
            rowOf({ id: 'dlock-postgres' }),
            rowOf({ id: 'dlock-postgres', variant: 'nohandover' }),
            ...p.postgresPollSweep.map((ms) => rowOf({ id: 'raw-postgres', variant: `poll:${ms}` })),
          ],
        }),
    },
    // Semaphores and read-write locks (issue 14): the sections are in plan-claims.mjs.
    { id: 'semaphore', run: async (ctx) => (await import('./plan-claims.mjs')).semaphoreUncontended(ctx, p) },
    { id: 'semaphore', run: async (ctx) => (await import('./plan-claims.mjs')).semaphoreHot(ctx, p) },
    { id: 'semaphore', run: async (ctx) => (await import('./plan-claims.mjs')).semaphoreUncontendedPostgres(ctx) },
    { id: 'semaphore', run: async (ctx) => (await import('./plan-claims.mjs')).semaphoreHotPostgres(ctx) },
    { id: 'rw', run: async (ctx) => (await import('./plan-claims.mjs')).readMostlyRedis(ctx, p) },
    { id: 'rw', run: async (ctx) => (await import('./plan-claims.mjs')).readMostlyPostgres(ctx, p) },
    // Hot-key fairness across processes (issue 19): workloads/fairness.mjs.
    { id: 'fairness', run: async (ctx) => (await import('./workloads/fairness.mjs')).fairness(ctx, p) },
  ];
}
