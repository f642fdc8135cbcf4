// `pnpm --filter @dlock/example-lock-manager start`
//
// One service, several lock backends registered by name in a LockManager, each operation
// naming the backend it needs:
//   rebuild-cache  -> memory  only this process's cache is at stake
//   send-digest    -> redis   once across all instances; fast; a rare double send is harmless
//   post-payment   -> etcd    money: stays exclusive through a lock-server failover
// Then, on every registered backend, a holder whose lease runs out while it stalls tries to
// write after the next holder did, and the table rejects it by its fencing token:
//   UPDATE accounts SET balance = $1, fence = $2 WHERE id = $3 AND fence < $2
//
// REDIS_URL and ETCD_ENDPOINTS (comma-separated) default to the ports of docker-compose.yml;
// a backend whose server does not answer is not registered, and its operations fall back to the
// default backend (memory). DATABASE_URL puts the accounts table in PostgreSQL.
// Exits 1 if a stale write got through or a legitimate one was refused.
import { LockLostError, LockManager, LockService, MemoryLock, UnknownBackendError } from '@dlock/core';
import { EtcdMutex } from '@dlock/etcd';
import { RedisLock } from '@dlock/redis';
import { AccountTable, fencedUpdate, PgAccountTable } from './account-table.mjs';
import { probeEtcd, probeRedis, redact, serverConfig } from '@dlock/example-shared/servers';

const failures = [];
const check = (ok, what) => {
  if (!ok) failures.push(what);
  return ok;
};

// --- 1. Backends by name -----------------------------------------------------------------------
const config = serverConfig();
const [redisDown, etcd] = await Promise.all([probeRedis(config.redisUrl), probeEtcd(config.etcdEndpoints)]);

const locks = new LockManager();
locks.register('memory', new LockService(new MemoryLock(), { ttl: 10_000 }), { default: true });
if (!redisDown) {
  locks.register('redis', new LockService(new RedisLock(config.redisUrl, { prefix: 'dlock-example' }), { ttl: 10_000 }));
}
if (etcd.healthy.length > 0) {
  locks.register('etcd', new LockService(new EtcdMutex({ hosts: etcd.healthy }, { prefix: 'dlock-example/' }), { ttl: 10_000 }));
}

const table = process.env.DATABASE_URL ? await PgAccountTable.connect(process.env.DATABASE_URL) : new AccountTable();
console.log(`backends: ${locks.names().map((n) => (n === locks.defaultName ? `${n} (default)` : n)).join(', ')}`);
if (redisDown) console.log(`  not registered: redis (no Redis at ${redisDown})`);
if (etcd.healthy.length === 0) console.log(`  not registered: etcd (no etcd at ${etcd.failures.join(', ')})`);
if (redisDown || etcd.healthy.length === 0) {
  console.log('  `docker compose up -d` in the repository root starts both; or set REDIS_URL / ETCD_ENDPOINTS.');
}
console.log(`table: ${table.description}\n`);

// --- 2. The service: each operation says which backend it locks on ----------------------------
const operations = {
  'rebuild-cache': 'memory',
  'send-digest': 'redis',
  'post-payment': 'etcd',
};

/** The backend name for an operation, or `undefined` (the default) if it is not registered. */
function backendFor(operation) {
  const wanted = operations[operation];
  try {
    locks.get(wanted); // throws UnknownBackendError for a name nobody registered
    return wanted;
  } catch (error) {
    if (!(error instanceof UnknownBackendError)) throw error;
    return undefined;
  }
}

function describeChoice(operation) {
  const name = backendFor(operation);
  return name ?? `${locks.defaultName} (no "${operations[operation]}" registered: fell back to the default)`;
}

const service = {
  /** Process-local: serialise rebuilds of this process's cache. */
  rebuildCache: (instance) =>
    locks.withLock(backendFor('rebuild-cache'), 'cache:accounts', async () => {
      await new Promise((r) => setTimeout(r, 5));
      return instance;
    }),

  /** Once per day across all instances: whoever gets the lock sends; the others skip at once. */
  sendDigest: (caller, day) =>
    locks.tryWithLock(backendFor('send-digest'), `digest:${day}`, async () => {
      await new Promise((r) => setTimeout(r, 50)); // long enough for the other callers to try
      return caller;
    }),

  /** Read-modify-write of a balance, fenced: the write carries the lock's fencing token. */
  postPayment: (accountId, amount) =>
    locks.withLock(
      backendFor('post-payment'),
      `account:${accountId}`,
      async (handle) => {
        const row = await table.get(accountId);
        const rows = await table.update(accountId, row.balance + amount, handle.fencingToken);
        return { fence: handle.fencingToken, rows };
      },
      { waitTimeout: 10_000 },
    ),
};

console.log('operations:');
for (const op of Object.keys(operations)) console.log(`  ${op.padEnd(14)} -> ${describeChoice(op)}`);

const rebuilt = await Promise.all([1, 2, 3].map((i) => service.rebuildCache(i)));
console.log(`\nrebuild-cache: ${rebuilt.length} rebuilds, one at a time`);

const day = new Date().toISOString().slice(0, 10) + `-${process.pid}`;
const digests = await Promise.all([1, 2, 3].map((i) => service.sendDigest(i, day)));
const senders = digests.filter((d) => d.acquired).map((d) => d.value);
console.log(`send-digest:   3 callers tried at once; caller ${senders.join(', ')} sent it, the other ${3 - senders.length} skipped`);
check(senders.length === 1, `send-digest sent ${senders.length} times`);

await table.reset(1, 100);
const payments = await Promise.all([10, 20, 30, 40].map((amount) => service.postPayment(1, amount)));
const account1 = await table.get(1);
console.log(
  `post-payment:  4 concurrent payments into account 1 (100 + 10 + 20 + 30 + 40): balance ${account1.balance}, ` +
    `fencing tokens ${payments.map((p) => p.fence).sort((x, y) => (x < y ? -1 : 1)).join(', ')}, all ${payments.every((p) => p.rows === 1) ? 'accepted' : 'NOT accepted'}`,
);
check(account1.balance === 200, `account 1 balance ${account1.balance}, expected 200`);
check(payments.every((p) => p.rows === 1), 'a payment made under the lock was rejected');

// --- 3. A stale holder, on each backend --------------------------------------------------------
// A takes the lock, then stalls past its lease without noticing: a GC pause, a frozen VM, a
// partition from the lock server. Here A's renewals are switched off (autoRenew: false) and it
// waits, ignoring handle.signal, until B has written. B gets the lock with a higher token and
// writes; then A's late write reaches the table and is refused by `fence < $2`.
// Each backend protects its own account: fencing tokens of different backends are not
// comparable, so one row must always be guarded by the same lock.
const sql = (balance, fence, id) =>
  fencedUpdate.replace('$1', balance).replaceAll('$2', fence).replace('$3', id);

let accountId = 100;
for (const name of locks.names()) {
  const id = ++accountId;
  const key = `account:${id}`;
  const lease = Math.max(500, locks.get(name).lock.capabilities.minTtlMs);
  await table.reset(id, 100);
  console.log(`\nstale holder on ${name} (account ${id}, lease ${lease} ms):`);

  let bWrote;
  const bHasWritten = new Promise((resolve) => (bWrote = resolve));
  let aAcquired;
  const aHolds = new Promise((resolve) => (aAcquired = resolve));

  const a = locks
    .withLock(
      name,
      key,
      async (handle) => {
        const row = await table.get(id);
        console.log(`  A holds ${key}, fencing token ${handle.fencingToken}; reads balance ${row.balance}, then stalls`);
        aAcquired();
        await bHasWritten; // the stall: longer than the lease
        const rows = await table.update(id, row.balance - 30, handle.fencingToken);
        console.log(`  A wakes and writes: ${sql(row.balance - 30, handle.fencingToken, id)}  -> ${rows} row(s): ${rows ? 'ACCEPTED' : 'rejected, stale token'}`);
        check(rows === 0, `${name}: the stale holder's write was accepted`);
        return handle;
      },
      { ttl: lease, autoRenew: false },
    )
    .then(
      () => check(false, `${name}: withLock did not report the lost lock`),
      (error) => {
        console.log(`  A's withLock rejects with ${error.name}: the work it did was not exclusive`);
        check(error instanceof LockLostError, `${name}: A's withLock rejected with ${error.name}, expected LockLostError`);
      },
    );

  await aHolds;
  const started = performance.now();
  await locks.withLock(
    name,
    key,
    async (handle) => {
      const row = await table.get(id);
      const rows = await table.update(id, row.balance + 10, handle.fencingToken);
      console.log(
        `  B holds ${key} after ${Math.round(performance.now() - started)} ms, fencing token ${handle.fencingToken}; ` +
          `${sql(row.balance + 10, handle.fencingToken, id)}  -> ${rows} row(s): ${rows ? 'accepted' : 'REJECTED'}`,
      );
      check(rows === 1, `${name}: the current holder's write was rejected`);
    },
    { waitTimeout: 15_000 },
  );
  bWrote();
  await a;
  const final = await table.get(id);
  console.log(`  balance ${final.balance} (B's +10 kept, A's stale -30 refused)`);
  check(final.balance === 110, `${name}: balance ${final.balance}, expected 110`);
}

await locks.close();
await table.close();

if (failures.length > 0) {
  console.error(`\nFAIL: ${failures.join('; ')}`);
  process.exit(1);
}
console.log(`\nOK: on ${locks.names().join(', ')}, the fencing token let the table refuse the stale holder's write.`);
