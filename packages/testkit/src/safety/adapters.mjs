// Backend adapters of the safety worker: how a worker process builds a lock from the JSON
// connection info the checker gives it. Plain Node (no TypeScript): workers cannot use vitest's
// transform, so they import the backends' built `dist/index.js` (the `module` file URL).
//
// An adapter is `async (spec) => ({ lock, close })`, `lock` being the primitive the backend's
// row acquires (a mutex, read-write lock, semaphore or election; see acquire.mjs):
//   spec.module      file URL (or specifier) of the backend's ESM build
//   spec.connection  what the checker's backend spec produced (ports, endpoints), already proxied
//   spec.options     lock options (prefix, timeouts) chosen by the checker
// `close()` must leave nothing open: the worker process is expected to exit by itself afterwards.

/** Local closes of a lock that created its own clients. */
const closeLock = (lock) => () => lock.close();

/** A Redis primitive from `exportName`, over ioredis options (it owns and closes the client). */
const redisPrimitive =
  (exportName) =>
  async ({ module, connection, options }) => {
    const lock = new (await import(module))[exportName]({ host: connection.host, port: connection.port }, options);
    return { lock, close: closeLock(lock) };
  };

/** An etcd primitive from `exportName`, over client options. */
const etcdPrimitive =
  (exportName) =>
  async ({ module, connection, options }) => {
    const lock = new (await import(module))[exportName]({ hosts: connection.endpoints }, options);
    return { lock, close: closeLock(lock) };
  };

/**
 * A `@dlock/postgres` class from `exportName`, over a connection string: it creates its pool and
 * its LISTEN connection, and ends both on close. The row's tables are created here (`migrate()`
 * of the class built: the mutex's lock table, or the claims tables of the read-write lock and the
 * semaphore; it is idempotent and safe from every worker at once).
 */
const postgresPrimitive =
  (exportName) =>
  async ({ module, connection, options }) => {
    const url = `postgres://${connection.user}@${connection.host}:${connection.port}/${connection.database}`;
    const lock = new (await import(module))[exportName](url, options);
    try {
      await lock.migrate();
    } catch (error) {
      await lock.close().catch(() => undefined);
      throw error;
    }
    return { lock, close: closeLock(lock) };
  };

/** @type {Record<string, (spec: any) => Promise<{ lock: any, close: () => Promise<void> }>>} */
export const adapters = {
  /** `@dlock/redis`: one `RedisLock` per process, ioredis options (it owns and closes the client). */
  async redis({ module, connection, options }) {
    const { RedisLock } = await import(module);
    const lock = new RedisLock({ host: connection.host, port: connection.port }, options);
    return { lock, close: closeLock(lock) };
  },

  /** `@dlock/redlock`: one `Redlock` over every node, each given as ioredis options. */
  async redlock({ module, connection, options }) {
    const { Redlock } = await import(module);
    const nodes = connection.nodes.map((node) => ({ host: node.host, port: node.port }));
    const lock = new Redlock(nodes, options);
    return { lock, close: closeLock(lock) };
  },

  /** `@dlock/etcd` `EtcdMutex` (the revision-ordered queue), from client options. */
  async 'etcd-mutex'({ module, connection, options }) {
    const { EtcdMutex } = await import(module);
    const lock = new EtcdMutex({ hosts: connection.endpoints }, options);
    return { lock, close: closeLock(lock) };
  },

  /** `@dlock/etcd` `EtcdLock` (lease + txn), from client options. */
  async 'etcd-lock'({ module, connection, options }) {
    const { EtcdLock } = await import(module);
    const lock = new EtcdLock({ hosts: connection.endpoints }, options);
    return { lock, close: closeLock(lock) };
  },

  /** `@dlock/postgres` `PostgresLock`. */
  postgres: postgresPrimitive('PostgresLock'),

  'redis-rw': redisPrimitive('RedisReadWriteLock'),
  'redis-semaphore': redisPrimitive('RedisSemaphore'),
  'redis-election': redisPrimitive('RedisElection'),
  'etcd-rw': etcdPrimitive('EtcdReadWriteLock'),
  'etcd-semaphore': etcdPrimitive('EtcdSemaphore'),
  'etcd-election': etcdPrimitive('EtcdElection'),
  'postgres-rw': postgresPrimitive('PostgresReadWriteLock'),
  'postgres-semaphore': postgresPrimitive('PostgresSemaphore'),
};
