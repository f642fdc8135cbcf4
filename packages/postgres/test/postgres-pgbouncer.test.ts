import { lockContractSuite } from '@dlock/testkit/contract';
import { startPgBouncer, startPostgres, uniqueKey, type PgBouncerServer, type PostgresServer } from '@dlock/testkit';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresLock, PostgresReadWriteLock, PostgresSemaphore } from '../src/index.js';
import { cleanupAfterEach } from './helpers/cleanup.js';

// PostgresLock through a real PgBouncer in transaction-pooling mode: the statements go through
// the pooler (which hands each transaction to any server connection), the one LISTEN
// connection goes straight to PostgreSQL (the `listen` option), as the README says to run it.
let server: PostgresServer;
/** The contract's pooler: transaction mode, a few server connections shared by every client. */
let bouncer: PgBouncerServer;
/** Transaction mode with one server connection: every client shares one session. */
let single: PgBouncerServer;
const { defer, track } = cleanupAfterEach();

beforeAll(async () => {
  server = await startPostgres();
  [bouncer, single] = await Promise.all([
    startPgBouncer({ postgres: server, poolMode: 'transaction', poolSize: 3 }),
    startPgBouncer({ postgres: server, poolMode: 'transaction', poolSize: 1 }),
  ]);
  const lock = new PostgresLock(bouncer.url, { listen: server.url });
  await lock.migrate();
  await lock.close();
  const rw = new PostgresReadWriteLock(bouncer.url, { listen: server.url });
  await rw.migrate();
  await rw.close();
});
afterAll(async () => {
  // Poolers first: they hold connections to the server.
  await Promise.allSettled([bouncer?.stop(), single?.stop()]);
  await server?.stop();
});

async function client(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => undefined);
  await c.connect();
  defer(() => c.end());
  return c;
}
const scalar = async (c: pg.Client, sql: string): Promise<unknown> => (await c.query(sql)).rows[0]?.v;
function through(pooler: PgBouncerServer): PostgresLock {
  return track(new PostgresLock(pooler.url, { listen: server.url }));
}

describe('the pooler', () => {
  it('runs in transaction mode in front of the server (not as root), and stop() ends it', async () => {
    expect(bouncer.poolMode).toBe('transaction');
    expect(bouncer.url).toBe(`postgres://postgres@127.0.0.1:${bouncer.port}/postgres`);
    const ini = readFileSync(`${bouncer.dataDir}/pgbouncer-${bouncer.port}.ini`, 'utf8');
    expect(ini).toMatch(/^pool_mode = transaction$/m);
    expect(ini).toContain(`port=${server.port}`);
    if (process.getuid?.() === 0) {
      const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${bouncer.pid}/status`, 'utf8'))?.[1];
      expect(Number(uid)).not.toBe(0);
    }
    // A client of the pooler reaches the server: the server's port is what it reports.
    const c = await client(bouncer.url);
    expect(await scalar(c, "SELECT current_setting('port') AS v")).toBe(String(server.port));
    // A pooler of its own, stopped: its process is gone and its port refuses.
    const extra = await startPgBouncer({ postgres: server });
    const pid = extra.pid!;
    await extra.stop();
    expect(() => process.kill(pid, 0)).toThrow();
    const refused = new pg.Client({ connectionString: extra.url, connectionTimeoutMillis: 2_000 });
    await expect(refused.connect()).rejects.toThrow(/ECONNREFUSED/);
  });

  it('hands one server session to every client (pool size 1): session state leaks between clients', async () => {
    const a = await client(single.url);
    const b = await client(single.url);
    expect(await scalar(a, 'SELECT pg_backend_pid() AS v')).toBe(await scalar(b, 'SELECT pg_backend_pid() AS v'));
    // Direct connections are two sessions.
    const c = await client(server.url);
    const d = await client(server.url);
    expect(await scalar(c, 'SELECT pg_backend_pid() AS v')).not.toBe(await scalar(d, 'SELECT pg_backend_pid() AS v'));
  });
});

describe('session advisory locks behind a transaction pooler', () => {
  it('let two clients hold the same lock at once (the session is shared), where direct connections exclude each other', async () => {
    const key = 424_242;
    const a = await client(single.url);
    const b = await client(single.url);
    defer(() => a.query('SELECT pg_advisory_unlock_all()'));
    expect(await scalar(a, `SELECT pg_try_advisory_lock(${key}) AS v`)).toBe(true);
    // b lands on the session that holds the lock, and advisory locks are re-entrant per session.
    expect(await scalar(b, `SELECT pg_try_advisory_lock(${key}) AS v`)).toBe(true);

    // The same two steps on direct connections: the second is refused.
    const c = await client(server.url);
    const d = await client(server.url);
    expect(await scalar(c, `SELECT pg_try_advisory_lock(${key + 1}) AS v`)).toBe(true);
    expect(await scalar(d, `SELECT pg_try_advisory_lock(${key + 1}) AS v`)).toBe(false);
  });

  it('PostgresLock instances on that same shared session still exclude each other, with increasing fences', async () => {
    const a = through(single);
    const b = through(single);
    const key = uniqueKey();
    const first = await a.tryLock(key, { ttl: 30_000 });
    expect(first).not.toBeNull();
    expect(await b.tryLock(key, { ttl: 30_000 })).toBeNull();
    expect(await b.isLocked(key)).toBe(true);
    const waiting = b.lock(key, { ttl: 30_000, waitTimeout: 5_000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const released = performance.now();
    await first!.release();
    const second = await waiting;
    // Woken by NOTIFY on the direct LISTEN connection, not by polling (maxRetryDelay 1 s).
    expect(performance.now() - released).toBeLessThan(500);
    expect(second.fencingToken).toBeGreaterThan(first!.fencingToken);
    expect(await a.tryLock(key)).toBeNull();
    await second.release();
  });

  it('the LISTEN connection is a session of its own, not the pooled one', async () => {
    const lock = through(single);
    const key = uniqueKey();
    const held = await lock.lock(key, { ttl: 30_000 });
    const waiting = lock.lock(key, { ttl: 5_000, waitTimeout: 5_000 });
    const admin = await client(server.url);
    const listening = "SELECT pid AS v FROM pg_stat_activity WHERE query = 'LISTEN \"dlock_locks\"' AND state = 'idle'";
    let listener: unknown;
    for (let i = 0; i < 100 && listener === undefined; i++) {
      listener = await scalar(admin, listening);
      if (listener === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(listener).toBeDefined();
    const pooled = await client(single.url);
    expect(await scalar(pooled, 'SELECT pg_backend_pid() AS v')).not.toBe(listener);
    await held.release();
    await (await waiting).release();
  });
});

describe('read-write locks and semaphores on one shared pooled session', () => {
  it('a semaphore keeps its limit across two instances, and a read-write lock keeps writers apart from readers', async () => {
    const sems = [0, 1].map(() => track(new PostgresSemaphore(single.url, { listen: server.url })));
    const key = uniqueKey();
    let used = 0;
    let maxUsed = 0;
    await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        for (let round = 0; round < 3; round++) {
          const h = await sems[i % 2]!.acquire(key, { limit: 3, ttl: 30_000, waitTimeout: 20_000 });
          maxUsed = Math.max(maxUsed, ++used);
          await new Promise((resolve) => setTimeout(resolve, 5));
          used--;
          await h.release();
        }
      }),
    );
    expect(maxUsed).toBe(3);

    const [a, b] = [0, 1].map(() => track(new PostgresReadWriteLock(single.url, { listen: server.url })));
    const r1 = await a!.readLock(key, { ttl: 30_000 });
    const r2 = await b!.readLock(key, { ttl: 30_000 });
    expect(await b!.tryWriteLock(key, { ttl: 30_000 })).toBeNull();
    const writing = b!.writeLock(key, { ttl: 30_000, waitTimeout: 5_000 });
    // The waiting writer holds back a later reader, on the same pooled session as everyone.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await a!.tryReadLock(key, { ttl: 30_000 })).toBeNull();
    await r1.release();
    await r2.release();
    const w = await writing;
    expect(w.fencingToken).toBeGreaterThan(r2.fencingToken);
    await w.release();
  });
});

// The whole mutex contract with every statement through the pooler.
lockContractSuite('PostgresLock through PgBouncer (transaction pooling)', () => new PostgresLock(bouncer.url, { listen: server.url }), {
  fifo: true,
  wakeupBudgetMs: 500,
});
