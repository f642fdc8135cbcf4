// The ways to make the registration burst safe, from none to distributed. Each strategy builds
// `instances` service instances that share the store (the central database) but nothing else:
// the distributed locks get one client per instance, as separate processes would.
import { KeyedMutex, LockService, MemoryLock, SingleFlight } from '@dlock/core';
import { EtcdMutex } from '@dlock/etcd';
import { PostgresLock } from '@dlock/postgres';
import { RedisLock } from '@dlock/redis';
import { Redlock } from '@dlock/redlock';
import { registerDevice, registerDeviceLocked } from './register.mjs';

const lockOptions = { ttl: 5_000, waitTimeout: 30_000 };

/**
 * A strategy whose instances are dlock `LockService`s over `makeLock()`; `prepare(lock)` runs once
 * on the first instance's lock before the warm-up (PostgreSQL: create the lock table).
 */
function lockServices(makeLock, serviceOptions = {}, prepare = undefined) {
  return (instances) => {
    const locks = Array.from({ length: instances }, () => makeLock());
    const services = locks.map((lock) => new LockService(lock, serviceOptions));
    return {
      async warmUp() {
        await prepare?.(locks[0]);
        await Promise.all(services.map((s) => s.isLocked('warm-up')));
      },
      register: (instance, store, device) => registerDeviceLocked(services[instance], store, device, lockOptions),
      close: () => Promise.all(services.map((s) => s.close())),
    };
  };
}

/**
 * `exclusive`: the strategy claims one system record per systemUUID for this burst; a duplicate
 * is a failure. `needs`: which server it needs (`redis`, `redlock`, `etcd`, `postgres`), if any.
 * `setup(instances)` returns `{ register(instance, store, device), close(), warmUp?() }`.
 */
export function strategies({ redisUrl, redlockUrls, etcdEndpoints, databaseUrl }, { instances = 3 } = {}) {
  return [
    {
      name: 'no lock',
      instances: 1,
      exclusive: false,
      setup: () => ({ register: (_i, store, device) => registerDevice(store, device), close: async () => {} }),
    },
    {
      name: 'KeyedMutex (in-process)',
      instances: 1,
      exclusive: true,
      setup: () => {
        const mutex = new KeyedMutex();
        return {
          register: (_i, store, device) => mutex.run(`register:${device.systemUUID}`, () => registerDevice(store, device)),
          close: async () => {},
        };
      },
    },
    {
      // Concurrent lookups of one systemUUID share a single find-or-create; each device then adds
      // its machine to the record that call returned.
      name: 'SingleFlight (in-process)',
      instances: 1,
      exclusive: true,
      setup: () => {
        const flight = new SingleFlight();
        return {
          async register(_i, store, { systemUUID, machineId }) {
            const system = await flight.do(systemUUID, async () => (await store.findSystem(systemUUID)) ?? store.createSystem(systemUUID));
            await store.addMachine(system, machineId);
            return system.id;
          },
          close: async () => {},
        };
      },
    },
    {
      name: 'MemoryLock (in-process)',
      instances: 1,
      exclusive: true,
      setup: lockServices(() => new MemoryLock()),
    },
    {
      // What an in-process lock does once the service runs as several instances: each has its own
      // mutex, so devices of one system reaching different instances race again. This is the
      // reason for a distributed lock; duplicates here are expected.
      name: `KeyedMutex, one per instance`,
      instances,
      exclusive: false,
      setup: (n) => {
        const mutexes = Array.from({ length: n }, () => new KeyedMutex());
        return {
          register: (i, store, device) => mutexes[i].run(`register:${device.systemUUID}`, () => registerDevice(store, device)),
          close: async () => {},
        };
      },
    },
    {
      name: 'Redis lock',
      instances,
      exclusive: true,
      needs: 'redis',
      setup: lockServices(() => new RedisLock(redisUrl, { prefix: 'dlock-example' })),
    },
    {
      // Same-key callers of one instance queue locally: one of them at a time talks to Redis.
      name: 'Redis lock + coalescing',
      instances,
      exclusive: true,
      needs: 'redis',
      setup: lockServices(() => new RedisLock(redisUrl, { prefix: 'dlock-example' }), { coalesce: true }),
    },
    {
      name: 'etcd mutex',
      instances,
      exclusive: true,
      needs: 'etcd',
      setup: lockServices(() => new EtcdMutex({ hosts: etcdEndpoints }, { prefix: 'dlock-example/' })),
    },
    {
      // The lock in the same database as the systems table: no other shared server at all. Each
      // instance has its own pool and LISTEN connection; the lock table is created once.
      name: 'PostgreSQL lock',
      instances,
      exclusive: true,
      needs: 'postgres',
      setup: lockServices(
        () => new PostgresLock(databaseUrl, { table: 'dlock_example_locks' }),
        {},
        (lock) => lock.migrate(),
      ),
    },
    {
      name: `Redlock (${redlockUrls.length} nodes)`,
      instances,
      exclusive: true,
      needs: 'redlock',
      setup: lockServices(() => new Redlock(redlockUrls, { prefix: 'dlock-example' })),
    },
  ];
}
