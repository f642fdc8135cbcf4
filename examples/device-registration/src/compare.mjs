// `pnpm --filter @dlock/example-device-registration compare`
//
// The burst that started dlock: many edge devices of one system (same systemUUID, different
// machineId) register at the same moment, for several systems at once. The handler checks for
// the system record, then inserts it; without mutual exclusion per systemUUID, devices that
// arrive together all see "no system yet" and each creates one.
//
// The same burst runs under every strategy; each prints the duplicate system records it left
// and its registrations per second. Servers come from REDIS_URL, REDLOCK_URLS (comma-separated)
// and ETCD_ENDPOINTS (comma-separated), defaulting to the ports of docker-compose.yml; a
// strategy whose server does not answer is skipped and listed. DATABASE_URL switches the store
// from an in-process table to PostgreSQL and runs the PostgreSQL lock in that same database.
//
// Exits 1 if a strategy that claims exclusion left a duplicate or lost a registration.
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { PgSystemStore } from './pg-store.mjs';
import { probeEtcd, probeRedis, probeRedisNodes, redact, serverConfig } from '@dlock/example-shared/servers';
import { strategies } from './strategies.mjs';
import { SystemStore } from './system-store.mjs';

const argv = process.argv.slice(2);
if (argv[0] === '--') argv.shift(); // `pnpm ... compare -- --systems 8` passes the `--` on
const args = parseArgsOrExit({
  args: argv,
  options: {
    systems: { type: 'string', default: '4' },
    devices: { type: 'string', default: '30' },
    instances: { type: 'string', default: '3' },
  },
});
const SYSTEMS = positiveInt('systems');
const DEVICES = positiveInt('devices');
const INSTANCES = positiveInt('instances');

const config = serverConfig();
const [redisDown, redlockDown, etcd] = await Promise.all([
  probeRedis(config.redisUrl),
  probeRedisNodes(config.redlockUrls),
  probeEtcd(config.etcdEndpoints),
]);
// A cluster with some members down still works through the others.
if (etcd.healthy.length > 0) config.etcdEndpoints = etcd.healthy;
const unavailable = {
  redis: redisDown && `no Redis at ${redisDown}`,
  redlock: redlockDown && `runs only when every node of REDLOCK_URLS answers; ${redlockDown}`,
  etcd: etcd.healthy.length === 0 && `no etcd at ${etcd.failures.join(', ')}`,
  postgres: !process.env.DATABASE_URL && 'DATABASE_URL is not set (the lock table goes into that database, next to the systems)',
};

// PostgreSQL: one table for every strategy (each uses fresh systemUUIDs). In-process: a fresh table each.
const sharedStore = process.env.DATABASE_URL ? await PgSystemStore.connect(process.env.DATABASE_URL) : undefined;

const all = strategies({ ...config, databaseUrl: process.env.DATABASE_URL }, { instances: INSTANCES });
const runnable = all.filter((s) => !s.needs || !unavailable[s.needs]);
const skipped = all.filter((s) => s.needs && unavailable[s.needs]);

console.log(
  `${SYSTEMS} systems x ${DEVICES} devices register at once (same systemUUID per system, one machineId per device): ` +
    `${SYSTEMS * DEVICES} registrations per strategy.`,
);
console.log(`store: ${(sharedStore ?? new SystemStore()).description}`);
console.log(`servers: Redis ${redisDown ? '-' : redact(config.redisUrl)}; ` +
  `Redlock ${redlockDown ? '-' : config.redlockUrls.map(redact).join(',')}; ` +
  `etcd ${etcd.healthy.length ? etcd.healthy.join(',') : '-'}; ` +
  `PostgreSQL ${process.env.DATABASE_URL ? redact(process.env.DATABASE_URL) : '-'}\n`);

const header = `${'strategy'.padEnd(30)} ${'instances'.padStart(9)} ${'duplicates'.padStart(10)} ${'registered'.padStart(12)} ${'regs/s'.padStart(8)}`;
console.log(header);
console.log('-'.repeat(header.length));

const failures = [];
for (const strategy of runnable) {
  const store = sharedStore ?? new SystemStore();
  const result = await burst(strategy, store).catch((error) => ({ error }));
  if (result.error) {
    console.log(`${strategy.name.padEnd(30)} ${String(strategy.instances).padStart(9)}   error: ${result.error.name}: ${result.error.message}`);
    failures.push(`${strategy.name}: ${result.error.name}`);
    continue;
  }
  const { duplicates, machines, seconds } = result;
  const total = SYSTEMS * DEVICES;
  const note = strategy.exclusive ? '' : duplicates > 0 ? '   (no exclusion across the burst: expected)' : '';
  console.log(
    `${strategy.name.padEnd(30)} ${String(strategy.instances).padStart(9)} ${String(duplicates).padStart(10)} ` +
      `${`${machines}/${total}`.padStart(12)} ${Math.round(total / seconds).toLocaleString('en-US').padStart(8)}${note}`,
  );
  if (strategy.exclusive && duplicates > 0) failures.push(`${strategy.name}: ${duplicates} duplicate system record(s)`);
  if (machines !== total) failures.push(`${strategy.name}: ${machines} of ${total} machines registered`);
}
await sharedStore?.close();

if (skipped.length > 0) {
  console.log('\nskipped (server not reachable):');
  for (const s of skipped) console.log(`  ${s.name}: ${unavailable[s.needs]}`);
  if (skipped.some((s) => s.needs !== 'postgres')) {
    console.log(
      '  To run them: `docker compose up -d --wait` in the repository root (Redis on 6379, Redlock nodes on 6380-6384,\n' +
        '  etcd on 2379/22379/32379), or point REDIS_URL, REDLOCK_URLS and ETCD_ENDPOINTS at your own servers.',
    );
  }
  if (skipped.some((s) => s.needs === 'postgres')) {
    console.log('  For the PostgreSQL lock: DATABASE_URL=postgres://user:pass@127.0.0.1:5432/db (store and lock in that database).');
  }
}

if (failures.length > 0) {
  console.error(`\nFAIL: ${failures.join('; ')}`);
  process.exit(1);
}
console.log(
  '\nEvery strategy that claims exclusion left exactly one record per system. ' +
    '"KeyedMutex, one per instance" shows why a distributed lock is needed once the service runs as several instances.',
);

/** Runs the whole burst through one strategy; counts duplicates per systemUUID. */
async function burst(strategy, store) {
  const impl = strategy.setup(strategy.instances);
  try {
    await impl.warmUp?.(); // connect every instance first: connection setup is not registration time
    const systems = Array.from({ length: SYSTEMS }, () => randomUUID());
    const requests = systems.flatMap((systemUUID) =>
      Array.from({ length: DEVICES }, (_, d) => ({ systemUUID, machineId: `machine-${d}`, instance: d % strategy.instances })),
    );
    const started = performance.now();
    await Promise.all(requests.map(({ instance, ...device }) => impl.register(instance, store, device)));
    const seconds = (performance.now() - started) / 1000;
    let duplicates = 0;
    let machines = 0;
    for (const systemUUID of systems) {
      const s = await store.summary(systemUUID);
      duplicates += s.systems - 1;
      machines += s.machines;
    }
    return { duplicates, machines, seconds };
  } finally {
    await impl.close();
  }
}

function parseArgsOrExit(config) {
  try {
    return parseArgs(config).values;
  } catch (error) {
    console.error(`${error.message}\nusage: compare.mjs [--systems 4] [--devices 30] [--instances 3]`);
    process.exit(2);
  }
}

function positiveInt(name) {
  const n = Number(args[name]);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`--${name} must be a positive integer, got ${args[name]}`);
    process.exit(2);
  }
  return n;
}
