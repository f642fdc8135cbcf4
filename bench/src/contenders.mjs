// Every contender the bench can run, by id: the raw protocol loops, dlock's backends and the
// peers. A contender creates a "locker" ({ acquire(key, ttl) -> release(), hold?(), close() })
// from the run's server addresses; child processes create the same contender by id. A semaphore
// locker's acquire() takes one permit of the spec's `limit`; a read-write lock's acquire() is
// the write lock and its acquireRead() the read lock.
import { errorText } from './measure.mjs';
import { rawEtcd, rawEtcdQueue } from './raw/etcd.mjs';
import { rawRedis, rawRedisPubSub } from './raw/redis.mjs';
import { rawRedlock } from './raw/redlock.mjs';
import { installedVersion } from './versions.mjs';

const v = (name) => installedVersion(name);

export const contenders = {
  'raw-redis': { kind: 'raw', server: 'redis', label: () => 'raw: SET NX PX + EVALSHA release', create: rawRedis },
  'raw-redis-pubsub': { kind: 'raw', server: 'redis', label: () => 'raw: pub/sub wake-one prototype', create: rawRedisPubSub },
  'raw-redis-fifo': {
    kind: 'raw',
    server: 'redis',
    label: () => 'raw: FIFO line + direct grant prototype',
    create: async (o) => (await import('./raw/redis-fifo.mjs')).rawRedisFifo(o),
  },
  'raw-redis-fifo-semaphore': {
    kind: 'raw',
    server: 'redis',
    label: () => 'raw: FIFO line + direct grant semaphore prototype',
    create: async (o) => (await import('./raw/redis-fifo.mjs')).rawRedisFifoSemaphore(o),
  },
  'raw-redis-dlock-lua': {
    kind: 'raw',
    server: 'redis',
    pkg: '@dlock/redis',
    label: () => "raw loop over dlock's Redis Lua scripts",
    create: async (o) => (await import('./raw/redis-dlock-lua.mjs')).rawRedisDlockLua(o),
  },
  'raw-etcd': { kind: 'raw', server: 'etcd', label: () => 'raw: txn put + delete, shared lease', create: rawEtcd },
  'raw-etcd-queue': { kind: 'raw', server: 'etcd', label: () => 'raw: revision queue, shared lease', create: rawEtcdQueue },
  'raw-postgres': {
    kind: 'raw',
    server: 'postgres',
    label: (variant) => (variant === undefined || variant === 'default' ? "raw: dlock's INSERT ... ON CONFLICT + UPDATE, no library" : "raw: INSERT ... ON CONFLICT polling loop"),
    create: async (o) => (await import('./raw/postgres.mjs')).rawPostgres(o),
  },
  'raw-postgres-advisory': {
    kind: 'raw',
    server: 'postgres',
    label: () => 'raw: pg_advisory_lock, a connection per waiter',
    create: async (o) => (await import('./raw/postgres.mjs')).rawPostgresAdvisory(o),
  },
  'raw-redis-semaphore': {
    kind: 'raw',
    server: 'redis',
    pkg: '@dlock/redis',
    label: () => "raw loop over dlock's semaphore Lua scripts + pub/sub",
    create: async (o) => (await import('./raw/redis-claims.mjs')).rawRedisSemaphore(o),
  },
  'raw-postgres-semaphore': {
    kind: 'raw',
    server: 'postgres',
    pkg: '@dlock/postgres',
    label: () => "raw loop over dlock's PostgreSQL admission function + LISTEN",
    create: async (o) => (await import('./raw/postgres-claims.mjs')).rawPostgresSemaphore(o),
  },
  'raw-redlock': { kind: 'raw', server: 'redisNodes', label: () => 'raw: quorum SET NX PX + pub/sub', create: rawRedlock },

  'dlock-redis': {
    server: 'redis',
    kind: 'dlock',
    pkg: '@dlock/redis',
    label: (variant) =>
      variant === 'coalesce'
        ? 'dlock RedisLock + LockService coalesce'
        : variant === 'handover'
          ? 'dlock RedisLock + LockService coalesce { handOver }'
          : variant === 'unfair'
            ? 'dlock RedisLock (fair: false)'
            : 'dlock RedisLock',
    create: async (o) => (await import('./dlock/redis.mjs')).dlockRedis(o),
  },
  'dlock-etcd': {
    server: 'etcd',
    kind: 'dlock',
    pkg: '@dlock/etcd',
    label: (variant) => (variant === 'lock' ? 'dlock EtcdLock' : 'dlock EtcdMutex'),
    create: async (o) => (await import('./dlock/etcd.mjs')).dlockEtcd(o),
  },
  'dlock-redlock': {
    server: 'redisNodes',
    kind: 'dlock',
    pkg: '@dlock/redlock',
    label: (variant) => (variant === 'nofence' ? "dlock Redlock (fencing 'none')" : 'dlock Redlock'),
    create: async (o) => (await import('./dlock/redlock.mjs')).dlockRedlock(o),
  },
  'dlock-redis-semaphore': {
    server: 'redis',
    kind: 'dlock',
    pkg: '@dlock/redis',
    label: () => 'dlock RedisSemaphore',
    create: async (o) => (await import('./dlock/redis-claims.mjs')).dlockRedisSemaphore(o),
  },
  'dlock-redis-rw': {
    server: 'redis',
    kind: 'dlock',
    pkg: '@dlock/redis',
    label: () => 'dlock RedisReadWriteLock',
    create: async (o) => (await import('./dlock/redis-claims.mjs')).dlockRedisRW(o),
  },

  'dlock-postgres': {
    server: 'postgres',
    kind: 'dlock',
    pkg: '@dlock/postgres',
    label: (variant) => (variant === 'nohandover' ? 'dlock PostgresLock (maxLocalHandOvers 0)' : 'dlock PostgresLock'),
    create: async (o) => (await import('./dlock/postgres.mjs')).dlockPostgres(o),
  },
  'dlock-postgres-semaphore': {
    server: 'postgres',
    kind: 'dlock',
    pkg: '@dlock/postgres',
    label: () => 'dlock PostgresSemaphore',
    create: async (o) => (await import('./dlock/postgres-claims.mjs')).dlockPostgresSemaphore(o),
  },
  'dlock-postgres-rw': {
    server: 'postgres',
    kind: 'dlock',
    pkg: '@dlock/postgres',
    label: () => 'dlock PostgresReadWriteLock',
    create: async (o) => (await import('./dlock/postgres-claims.mjs')).dlockPostgresRW(o),
  },

  redlock4: {
    server: 'redis',
    kind: 'peer',
    label: () => `redlock ${v('redlock4')}`,
    create: async (o) => (await import('./peers/redlock.mjs')).redlock4(o),
  },
  redlock5: {
    server: 'redis',
    kind: 'peer',
    label: () => `redlock ${v('redlock5')}`,
    create: async (o) => (await import('./peers/redlock.mjs')).redlock5(o),
  },
  sesame: {
    server: 'redis',
    kind: 'peer',
    label: () => `@sesamecare-oss/redlock ${v('@sesamecare-oss/redlock')}`,
    create: async (o) => (await import('./peers/redlock.mjs')).sesameRedlock(o),
  },
  'semaphore-mutex': {
    server: 'redis',
    kind: 'peer',
    label: () => `redis-semaphore ${v('redis-semaphore')} Mutex`,
    create: async (o) => (await import('./peers/redis-semaphore.mjs')).semaphoreMutex(o),
  },
  'semaphore-semaphore': {
    server: 'redis',
    kind: 'peer',
    label: () => `redis-semaphore ${v('redis-semaphore')} Semaphore`,
    create: async (o) => (await import('./peers/redis-semaphore.mjs')).semaphoreSemaphore(o),
  },
  'semaphore-redlock': {
    server: 'redisNodes',
    kind: 'peer',
    label: () => `redis-semaphore ${v('redis-semaphore')} RedlockMutex`,
    create: async (o) => (await import('./peers/redis-semaphore.mjs')).semaphoreRedlockMutex(o),
  },
  'redlock-universal': {
    server: 'redis',
    kind: 'peer',
    label: () => `redlock-universal ${v('redlock-universal')} createLock`,
    create: async (o) => (await import('./peers/redlock-universal.mjs')).universalLock(o),
  },
  'redlock-universal-redlock': {
    server: 'redisNodes',
    kind: 'peer',
    label: () => `redlock-universal ${v('redlock-universal')} RedLock`,
    create: async (o) => (await import('./peers/redlock-universal.mjs')).universalRedlock(o),
  },
  'etcd3-lock': {
    server: 'etcd',
    kind: 'peer',
    label: () => `etcd3 ${v('etcd3')} Lock + retry loop`,
    create: async (o) => (await import('./peers/etcd3-lock.mjs')).etcd3Lock(o),
  },
};

/** What the settings column shows for a variant. */
export function settingsText(id, variant) {
  const m = /^retry:(.+)$/.exec(variant ?? '');
  if (m) return `retry ${m[1]} ms`;
  const poll = /^poll:(.+)$/.exec(variant ?? '');
  if (poll) return `poll every ${poll[1]} ms`;
  if (id === 'etcd3-lock') return 'retry 10 ms';
  // It gives up after 3 retries (0.3 s; RedLock 0.6 s): the bench's loop asks again.
  if (id.startsWith('redlock-universal')) return variant === 'lean' ? "performance 'lean', retry loop" : 'defaults, retry loop';
  return contenders[id].kind === 'peer' ? 'defaults' : '';
}

/** The server kind a contender spec needs: 'redis', 'redisNodes' (Redlock), 'etcd' or 'postgres'. */
export function serverOf(spec) {
  return spec.nodes ? 'redisNodes' : contenders[spec.id].server;
}

const loadChecks = new Map();

/**
 * Why contender `id` cannot run here, or undefined when it can: a dlock backend whose built dist
 * does not load (not built yet, or failing to build) is skipped, not fatal.
 */
export function unavailable(id) {
  const c = contenders[id];
  if (c.pkg === undefined) return Promise.resolve(undefined);
  let check = loadChecks.get(c.pkg);
  if (check === undefined) {
    check = import(c.pkg).then(
      () => undefined,
      (error) => `${c.pkg} dist could not be loaded: ${errorText(error)} (build it: pnpm --filter ${c.pkg} build)`,
    );
    loadChecks.set(c.pkg, check);
  }
  return check;
}

/** Creates contender `id`'s locker. `spec`: { id, variant, nodes, limit (semaphores) }. */
export function createLocker(spec, env) {
  const c = contenders[spec.id];
  if (c === undefined) throw new Error(`unknown contender ${spec.id}`);
  return c.create({ env, nodes: spec.nodes, variant: spec.variant ?? 'default', limit: spec.limit });
}

/** The label of a contender spec. */
export function labelOf(spec) {
  return contenders[spec.id].label(spec.variant);
}
