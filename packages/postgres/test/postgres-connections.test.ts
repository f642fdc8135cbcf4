import { LockBackendError } from '@dlock/core';
import { startPostgres, uniqueKey, waitFor, type PostgresServer } from '@dlock/testkit';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresLock } from '../src/index.js';
import { cleanupAfterEach } from './helpers/cleanup.js';
import { recording } from './helpers/recording-pool.js';

// How the lock uses the connections it is given: a pool of one, a client, a pool shaped like
// one (counting statements), the LISTEN connection breaking, errors that do not pass.
let server: PostgresServer;
const { defer, track } = cleanupAfterEach();

beforeAll(async () => {
  server = await startPostgres();
  const lock = new PostgresLock(server.url);
  await lock.migrate();
  await lock.close();
});
afterAll(async () => {
  await server?.stop();
});

function pool(config: pg.PoolConfig = {}): pg.Pool {
  const p = new pg.Pool({ connectionString: server.url, connectionTimeoutMillis: 5_000, ...config });
  defer(() => p.end());
  return p;
}

describe('a pool of one connection', () => {
  it('serves concurrent waiters (LISTEN has its own connection), renewals and many keys; close() leaves the pool open', async () => {
    const one = pool({ max: 1 });
    const a = track(new PostgresLock(one));
    const b = track(new PostgresLock(one));
    const key = uniqueKey();
    let inside = 0;
    let counter = 0;
    const worker = async (lock: PostgresLock) => {
      for (let i = 0; i < 5; i++) {
        const h = await lock.lock(key, { ttl: 10_000, waitTimeout: 20_000 });
        inside++;
        expect(inside).toBe(1);
        counter++;
        await sleep(1);
        inside--;
        await h.release();
      }
    };
    const many = Promise.all(Array.from({ length: 200 }, (_, i) => a.tryLock(`${key}:${i}`, { ttl: 10_000 })));
    await Promise.all(Array.from({ length: 10 }, (_, i) => worker(i % 2 === 0 ? a : b)));
    const handles = await many;
    expect(handles.every((h) => h !== null)).toBe(true);
    const renewed = a.autoRenew(handles[0]!);
    expect(renewed).toBeDefined();
    expect(counter).toBe(50);
    await Promise.all(handles.map((h) => h!.release()));
    await a.close();
    await b.close();
    expect(one.totalCount).toBeLessThanOrEqual(1);
    expect((await one.query('SELECT 1 AS v')).rows[0].v).toBe(1);
  }, 60_000);
});

describe('the statements', () => {
  it('go one per operation through the pool, hold no session state, and one renews every lock of a watchdog tick', async () => {
    const { pool: counting, statements } = recording(pool());
    const lock = track(new PostgresLock(counting));
    const base = uniqueKey();
    const handles = await Promise.all(Array.from({ length: 5 }, (_, i) => lock.lock(`${base}:${i}`, { ttl: 900 })));
    const acquires = statements.length;
    expect(acquires).toBeGreaterThanOrEqual(5);
    statements.length = 0;
    for (const h of handles) lock.autoRenew(h);
    await sleep(1_500);
    const renewals = statements.filter((text) => text.includes('unnest('));
    // ttl/3 = 300 ms: about five ticks in 1.5 s, each one statement for all five locks.
    expect(renewals.length).toBeGreaterThanOrEqual(3);
    expect(renewals.length).toBeLessThanOrEqual(8);
    expect(handles.every((h) => h.held)).toBe(true);
    await Promise.all(handles.map((h) => h.release()));
    // Nothing that a transaction-pooling proxy would lose between statements.
    for (const text of statements) expect(text).not.toMatch(/^\s*(SET|PREPARE|LISTEN|BEGIN|DECLARE)\b/i);
  });
});

describe('a pg.Client', () => {
  it('runs the statements and LISTEN on the caller client; close() leaves it open, without the lock listeners', async () => {
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    defer(() => client.end());
    const listeners = client.listenerCount('notification');
    const a = track(new PostgresLock(client));
    const b = track(new PostgresLock(server.url));
    const key = uniqueKey();
    const held = await b.lock(key, { ttl: 30_000 });
    const waiting = a.lock(key, { ttl: 5_000, waitTimeout: 5_000 });
    await sleep(200);
    const released = performance.now();
    await held.release();
    const h = await waiting;
    expect(performance.now() - released).toBeLessThan(500);
    await h.release();
    await a.close();
    expect(client.listenerCount('notification')).toBe(listeners);
    expect((await client.query('SELECT 1 AS v')).rows[0].v).toBe(1);
  });
});

describe('the LISTEN connection', () => {
  it('is opened again when it breaks, and a waiter still hears of the release', async () => {
    const a = track(new PostgresLock(server.url, { maxRetryDelay: 300 }));
    const b = track(new PostgresLock(server.url));
    const key = uniqueKey();
    const held = await b.lock(key, { ttl: 30_000 });
    const waiting = a.lock(key, { ttl: 5_000, waitTimeout: 10_000 });
    const admin = pool({ max: 1 });
    const listening = "SELECT pid FROM pg_stat_activity WHERE query = 'LISTEN \"dlock_locks\"'";
    await waitFor(async () => ((await admin.query(listening)).rowCount ?? 0) > 0, 5_000);
    const killed = await admin.query(`SELECT pg_terminate_backend(pid) FROM (${listening}) AS l`);
    expect(killed.rowCount).toBeGreaterThanOrEqual(1);
    await sleep(100);
    await held.release();
    const h = await waiting;
    await h.release();
    // Listening again: the next wait is woken by a notification.
    const again = await b.lock(key, { ttl: 30_000 });
    const next = a.lock(key, { ttl: 5_000, waitTimeout: 5_000 });
    await sleep(200);
    const released = performance.now();
    await again.release();
    await (await next).release();
    expect(performance.now() - released).toBeLessThan(250);
  });

  it('listen: false polls instead (no LISTEN connection), and a release in the same instance still wakes at once', async () => {
    const { pool: counting } = recording(pool());
    const lock = track(new PostgresLock(counting, { listen: false, maxRetryDelay: 2_000 }));
    const key = uniqueKey();
    const held = await lock.lock(key, { ttl: 30_000 });
    const waiting = lock.lock(key, { ttl: 5_000, waitTimeout: 5_000 });
    await sleep(100);
    const released = performance.now();
    await held.release();
    await (await waiting).release();
    expect(performance.now() - released).toBeLessThan(500);
  });
});

describe('errors that do not pass', () => {
  it('a missing permission fails a waiting lock() at once with the server error as cause', async () => {
    const admin = pool({ max: 1 });
    await admin.query('DROP ROLE IF EXISTS dlock_nobody; CREATE ROLE dlock_nobody LOGIN');
    const lock = track(new PostgresLock(`postgres://dlock_nobody@127.0.0.1:${server.port}/postgres`));
    const started = performance.now();
    const error = await lock.lock(uniqueKey(), { waitTimeout: 5_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockBackendError);
    expect(((error as Error).cause as { code?: string }).code).toBe('42501');
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('a server that is down: tryLock rejects with LockBackendError (ECONNREFUSED), like every backend', async () => {
    const lock = track(new PostgresLock('postgres://postgres@127.0.0.1:1/postgres'));
    const error = await lock.tryLock(uniqueKey()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockBackendError);
    expect((error as Error).message).toMatch(/postgres acquire of lock ".*" failed: .*ECONNREFUSED/);
  });
});
