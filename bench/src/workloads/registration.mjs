// Workload 6, the device-registration scenario of the seeds: many devices register concurrently,
// each a check-then-insert on its system (examples/device-registration: the same handler and
// store, 0-2 ms per store round trip). Per strategy: registrations per second, and the duplicate
// system records created (any duplicate means the strategy failed to make it exclusive).
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { registerDevice } from '../../../examples/device-registration/src/register.mjs';
import { SystemStore } from '../../../examples/device-registration/src/system-store.mjs';
import { rawRedisPubSub } from '../raw/redis.mjs';
import { runGrid } from './grid.mjs';

const TTL = 5_000;
const WAIT = 60_000;

/** Strategies: `open(ctx)` -> { register(store, device, signal), close() }. */
const strategies = {
  nolock: {
    label: 'no lock (unsafe)',
    open: async () => ({ register: (store, device) => registerDevice(store, device), close: async () => {} }),
  },
  global: {
    label: 'global mutex (one KeyedMutex key)',
    open: async () => {
      const { KeyedMutex } = await import('@dlock/core');
      const mutex = new KeyedMutex();
      return { register: (store, device, signal) => mutex.run('global', () => registerDevice(store, device), { signal }), close: async () => {} };
    },
  },
  singleflight: {
    label: 'single-flight (find-or-create shared per device)',
    open: async () => {
      const { SingleFlight } = await import('@dlock/core');
      const flights = new SingleFlight();
      return {
        async register(store, { systemUUID, machineId }) {
          const system = await flights.do(systemUUID, async () => (await store.findSystem(systemUUID)) ?? store.createSystem(systemUUID));
          await store.addMachine(system, machineId);
        },
        close: async () => {},
      };
    },
  },
  keyed: {
    label: 'keyed mutex (KeyedMutex per device)',
    open: async () => {
      const { KeyedMutex } = await import('@dlock/core');
      const mutex = new KeyedMutex();
      return {
        register: (store, device, signal) => mutex.run(device.systemUUID, () => registerDevice(store, device), { signal }),
        close: async () => {},
      };
    },
  },
  rawRedis: {
    label: 'raw: pub/sub wake-one prototype',
    server: 'redis',
    open: async (ctx) => {
      const locker = await rawRedisPubSub({ env: ctx.env });
      return {
        async register(store, device) {
          const release = await locker.acquire(`register:${device.systemUUID}`, TTL);
          try {
            await registerDevice(store, device);
          } finally {
            await release();
          }
        },
        close: () => locker.close(),
      };
    },
  },
  redis: {
    label: 'dlock RedisLock (LockService)',
    server: 'redis',
    pkg: '@dlock/redis',
    open: (ctx) => serviceOver(ctx, async () => (await import('../dlock/redis.mjs')).makeRedisLock(ctx.env.redisUrl), {}),
  },
  redisCoalesce: {
    label: 'dlock RedisLock (LockService, coalesce)',
    server: 'redis',
    pkg: '@dlock/redis',
    open: (ctx) => serviceOver(ctx, async () => (await import('../dlock/redis.mjs')).makeRedisLock(ctx.env.redisUrl), { coalesce: true }),
  },
  redisHandOver: {
    label: 'dlock RedisLock (LockService, coalesce { handOver })',
    server: 'redis',
    pkg: '@dlock/redis',
    open: (ctx) =>
      serviceOver(ctx, async () => (await import('../dlock/redis.mjs')).makeRedisLock(ctx.env.redisUrl), { coalesce: { handOver: true } }),
  },
  etcd: {
    label: 'dlock EtcdMutex (LockService)',
    server: 'etcd',
    pkg: '@dlock/etcd',
    open: (ctx) =>
      serviceOver(ctx, async () => {
        const lock = await (await import('../dlock/etcd.mjs')).makeEtcdLock(ctx.env.etcdEndpoint, 'mutex');
        return { lock, close: () => lock.close() };
      }, {}),
  },
  redlock: {
    label: 'dlock Redlock, 3 nodes (LockService)',
    server: 'redisNodes',
    pkg: '@dlock/redlock',
    open: (ctx) =>
      serviceOver(ctx, async () => {
        const lock = await (await import('../dlock/redlock.mjs')).makeRedlock(ctx.env.redisNodeUrls.slice(0, 3));
        return { lock, close: () => lock.close() };
      }, {}),
  },
};

async function serviceOver(_ctx, make, options) {
  const { LockService } = await import('@dlock/core');
  const { lock, close } = await make();
  const service = new LockService(lock, options);
  return {
    register: (store, device, signal) =>
      service.withLock(`register:${device.systemUUID}`, () => registerDevice(store, device), { ttl: TTL, waitTimeout: WAIT, signal }),
    close,
  };
}

async function skip(ctx, s) {
  if (s.server === 'redis' && !ctx.env.redisUrl) return `no redis server: ${ctx.missing.redis}`;
  if (s.server === 'etcd' && !ctx.env.etcdEndpoint) return `no etcd server: ${ctx.missing.etcd}`;
  if (s.server === 'redisNodes' && !ctx.env.redisNodeUrls) return `no Redlock nodes: ${ctx.missing.redisNodes}`;
  if (s.pkg) {
    try {
      await import(s.pkg);
    } catch (error) {
      return `${s.pkg} dist could not be loaded: ${error.message.split('\n')[0]}`;
    }
  }
  return undefined;
}

export async function registration(ctx) {
  const { total, concurrent, devices, maxMs } = ctx.profile.registration;
  // runGrid speaks contender specs; registration strategies are wrapped as pseudo-rows here.
  const rows = [];
  for (const [key, s] of Object.entries(strategies)) {
    rows.push({ key, label: s.label, settings: '', baseline: key === 'keyed', skipped: await skip(ctx, s) });
  }
  const section = {
    id: 'registration',
    title: '6. Device registration',
    groupLabel: 'registrations',
    ratioLabel: 'x keyed mutex',
    description:
      `${total.toLocaleString('en-US')} registrations over ${devices} device ids, ${concurrent.toLocaleString('en-US')} at a time, ` +
      `one process, store round trips 0-2 ms (examples/device-registration); bounded at ${maxMs} ms, then waiters are aborted ` +
      '(completed < total: the strategy did not finish in time). The in-process keyed mutex is the baseline here',
    metrics: [
      { key: 'registrationsPerSecond', label: 'registrations/s', digits: 0, ratio: 'higher' },
      { key: 'duplicates', label: 'duplicates created', digits: 0 },
      { key: 'completed', label: 'completed', digits: 0 },
      { key: 'failed', label: 'failed', digits: 0 },
    ],
  };
  return runGrid(ctx, section, {
    groups: [{ label: total.toLocaleString('en-US') }],
    rows,
    async measure(key) {
      return measureStrategy(ctx, strategies[key], { total, concurrent, devices, maxMs });
    },
  });
}

async function measureStrategy(ctx, strategy, { total, concurrent, devices, maxMs }) {
  const impl = await strategy.open(ctx);
  const store = new SystemStore();
  const ids = Array.from({ length: devices }, () => randomUUID());
  const abort = new AbortController();
  setMaxListeners(0, abort.signal); // one listener per waiting registration
  let started = 0;
  let completed = 0;
  let aborted = 0;
  let failed = 0;
  const notes = new Set();
  const t0 = performance.now();
  const timer = setTimeout(() => abort.abort(new Error('bench time limit')), maxMs);
  try {
    await Promise.all(
      Array.from({ length: concurrent }, async () => {
        while (started < total && !abort.signal.aborted) {
          const i = started++;
          try {
            await impl.register(store, { systemUUID: ids[i % devices], machineId: `machine-${i}` }, abort.signal);
            completed++;
          } catch (error) {
            if (abort.signal.aborted) aborted++;
            else {
              failed++;
              notes.add(`${error.name}: ${error.message}`.slice(0, 200));
            }
          }
        }
      }),
    );
  } finally {
    clearTimeout(timer);
    await impl.close().catch(() => undefined);
  }
  const seconds = (performance.now() - t0) / 1000;
  const duplicates = ids.reduce((n, id) => n + Math.max(0, store.countSystems(id) - 1), 0);
  return { registrationsPerSecond: completed / seconds, duplicates, completed, aborted, failed, notes: [...notes] };
}
