import { InvalidOptionError, LockBackendError } from '@dlock/core';
import { startPostgres, uniqueKey, type PostgresServer } from '@dlock/testkit';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  claimsMigrationSql,
  PostgresLock,
  PostgresNotMigratedError,
  PostgresReadWriteLock,
  PostgresSemaphore,
} from '../src/index.js';
import { adminPool } from './helpers/admin-pool.js';
import { cleanupAfterEach } from './helpers/cleanup.js';
import { recording } from './helpers/recording-pool.js';

// What the read-write lock and semaphore contracts cannot know: the tables and their migration,
// the not-migrated error, fences shared with the mutex, the rows of holders and waiters (a dead
// waiter's place ends), the statements sent, the cleanup, and option validation.
let server: PostgresServer;
let admin: pg.Pool;
const { defer, track } = cleanupAfterEach();

beforeAll(async () => {
  server = await startPostgres();
  admin = adminPool(server.url);
  const rw = new PostgresReadWriteLock(server.url);
  await rw.migrate();
  await rw.close();
});
afterAll(async () => {
  await admin?.end();
  await server?.stop();
});

const rwLock = (options: ConstructorParameters<typeof PostgresReadWriteLock>[1] = {}) => track(new PostgresReadWriteLock(server.url, options));
const semaphore = (options: ConstructorParameters<typeof PostgresSemaphore>[1] = {}) => track(new PostgresSemaphore(server.url, options));
const scalar = async (sql: string, values: unknown[] = []): Promise<unknown> => (await admin.query(sql, values)).rows[0]?.v;

describe('migrate()', () => {
  it('creates the claims tables, the admission function and the shared sequence, idempotently, from several instances at once', async () => {
    const rw = rwLock({ table: 'mig_c' });
    const instances = [rw, semaphore({ table: 'mig_c' }), rwLock({ table: 'mig_c' }), track(new PostgresLock(server.url, { table: 'mig_c' }))];
    await Promise.all(instances.map((i) => i.migrate()));
    await rw.migrate();
    const relations = "SELECT count(*)::int AS v FROM pg_class WHERE relname IN ('mig_c', 'mig_c_fence', 'mig_c_claims', 'mig_c_claim_keys')";
    expect(await scalar(relations)).toBe(4);
    expect(await scalar("SELECT count(*)::int AS v FROM pg_proc WHERE proname = 'mig_c_claim_acquire'")).toBe(1);
    const w = await rw.writeLock(uniqueKey(), { ttl: 5_000 });
    expect(w.fencingToken).toBeGreaterThan(0n);
    await w.release();
  });

  it('claimsMigrationSql() is the SQL migrate() runs: applied by hand it gives working tables; the README shows the tables', async () => {
    const sql = claimsMigrationSql({ table: 'by_hand_c' });
    expect(sql).toContain('CREATE TABLE IF NOT EXISTS "by_hand_c_claims"');
    expect(sql).toContain('CREATE OR REPLACE FUNCTION "by_hand_c_claim_acquire"');
    expect(claimsMigrationSql({ schema: 'app', table: 'x' })).toContain('CREATE SEQUENCE IF NOT EXISTS "app"."x_fence"');
    await admin.query(sql);
    await admin.query(sql);
    const sem = semaphore({ table: 'by_hand_c' });
    const h = await sem.tryAcquire(uniqueKey(), { limit: 2 });
    expect(h).not.toBeNull();
    await h!.release();
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const tables = claimsMigrationSql().slice(claimsMigrationSql().indexOf('CREATE TABLE'), claimsMigrationSql().indexOf('CREATE OR REPLACE FUNCTION')).trim();
    expect(readme).toContain(tables);
    expect(() => claimsMigrationSql({ table: 'x; DROP TABLE y' })).toThrow(InvalidOptionError);
  });

  it('before it, every call fails with a LockBackendError caused by PostgresNotMigratedError, and a waiting call fails at once', async () => {
    const rw = rwLock({ table: 'never_c' });
    const error = await rw.tryReadLock(uniqueKey()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockBackendError);
    const cause = (error as Error).cause;
    expect(cause).toBeInstanceOf(PostgresNotMigratedError);
    expect((cause as Error).message).toMatch(/"never_c_claims".*run `await lock.migrate\(\)`.*claimsMigrationSql\(\)/);
    await expect(rw.inspect(uniqueKey())).rejects.toThrow(/migrate\(\)/);
    // The sequence and tables exist, the function does not (a half-applied migration): the same error.
    await admin.query('CREATE TABLE IF NOT EXISTS half_c_claims (key text); CREATE TABLE IF NOT EXISTS half_c_claim_keys (key text)');
    const started = performance.now();
    const waiting = await semaphore({ table: 'half_c' })
      .acquire(uniqueKey(), { limit: 2, waitTimeout: 5_000 })
      .catch((e: unknown) => e);
    expect((waiting as Error).cause).toBeInstanceOf(PostgresNotMigratedError);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

describe('the rows', () => {
  it('fencing tokens come from the sequence the mutex of the same table uses: increasing across mutex, readers, writers and permits', async () => {
    const key = uniqueKey();
    const mutex = track(new PostgresLock(server.url));
    await mutex.migrate();
    const rw = rwLock();
    const sem = semaphore();
    const fences: bigint[] = [];
    for (let i = 0; i < 2; i++) {
      const m = await mutex.lock(key, { ttl: 5_000 });
      fences.push(m.fencingToken);
      await m.release();
      const r = await rw.readLock(`${key}:rw`, { ttl: 5_000 });
      fences.push(r.fencingToken);
      const w = await rw.tryWriteLock(`${key}:rw`, { ttl: 5_000 });
      expect(w).toBeNull();
      await r.release();
      const w2 = await rw.writeLock(`${key}:rw`, { ttl: 5_000 });
      fences.push(w2.fencingToken);
      await w2.release();
      const p = await sem.acquire(`${key}:sem`, { limit: 2, ttl: 5_000 });
      fences.push(p.fencingToken);
      await p.release();
    }
    for (let i = 1; i < fences.length; i++) expect(fences[i]!).toBeGreaterThan(fences[i - 1]!);
  });

  it('one row per holder and per waiter, with its claim, fence and lease on the server clock; a key is either a read-write lock or a semaphore', async () => {
    const rw = rwLock();
    const sem = semaphore();
    const key = uniqueKey();
    const r = await rw.readLock(key, { ttl: 30_000 });
    const waiting = rw.writeLock(key, { ttl: 30_000, waitTimeout: 5_000 });
    await sleep(100);
    const rows = await admin.query(
      `SELECT token, kind, permits, permit_limit, fence::text AS fence, arrival::int AS arrival,
              (extract(epoch FROM expires_at - now()) * 1000)::float8 AS left_ms
       FROM dlock_locks_claims WHERE key = $1 ORDER BY fence NULLS LAST`,
      [key],
    );
    expect(rows.rows).toHaveLength(2);
    expect(rows.rows[0]).toMatchObject({ token: r.token, kind: 'shared', fence: String(r.fencingToken), arrival: null });
    expect(rows.rows[0].left_ms).toBeGreaterThan(25_000);
    expect(rows.rows[1]).toMatchObject({ kind: 'exclusive', fence: null, arrival: 1 });
    // Mixed kinds never fit together: a semaphore of the same table cannot take this key.
    expect(await sem.tryAcquire(key, { limit: 10 })).toBeNull();
    await r.release();
    const w = await waiting;
    expect(await scalar('SELECT count(*)::int AS v FROM dlock_locks_claims WHERE key = $1', [key])).toBe(1);
    await w.release();
    expect(await scalar('SELECT count(*)::int AS v FROM dlock_locks_claims WHERE key = $1', [key])).toBe(0);
  });

  it("a waiter that died leaves a place that ends by itself: it holds later readers back only until then", async () => {
    const rw = rwLock();
    const key = uniqueKey();
    const r = await rw.readLock(key, { ttl: 300 });
    // What a process that queued a writer and then died leaves: a place, 300 ms past the reader's lease.
    const queued = await admin.query('SELECT outcome, value FROM dlock_locks_claim_acquire($1, $2, 60000, $3, 0, 0, true, 300, $4)', [key, 'dead-writer', 'exclusive', 'dlock_locks_claims']);
    expect(queued.rows[0]).toMatchObject({ outcome: 0 });
    expect(await rw.inspect(key)).toMatchObject({ readers: 1, writer: false, waiting: 1 });
    // A reader could share the key with r, but the (dead) writer's place comes first.
    expect(await rw.tryReadLock(key, { ttl: 5_000 })).toBeNull();
    const started = performance.now();
    const next = await rw.readLock(key, { ttl: 5_000, waitTimeout: 5_000 });
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThan(300);
    expect(waited).toBeLessThan(3_000);
    expect(r.held).toBe(false);
    expect(await rw.inspect(key)).toMatchObject({ readers: 1, waiting: 0 });
    await next.release();
  });

  it('the cleanup deletes rows that ended a minute ago and key rows without claims, and nothing live', async () => {
    const key = uniqueKey();
    const rw = rwLock();
    const live = await rw.readLock(`${key}:live`, { ttl: 30_000 });
    const old = await rw.readLock(`${key}:old`, { ttl: 30_000 });
    await admin.query("UPDATE dlock_locks_claims SET expires_at = now() - interval '2 minutes' WHERE key = $1", [`${key}:old`]);
    // A key used and given back: no claims left, only its key row.
    await (await rw.writeLock(`${key}:idle`, { ttl: 30_000 })).release();
    expect(await scalar('SELECT count(*)::int AS v FROM dlock_locks_claim_keys WHERE key = $1', [`${key}:idle`])).toBe(1);
    // A new instance cleans up after its first acquire.
    const fresh = rwLock();
    const h = await fresh.tryReadLock(`${key}:trigger`, { ttl: 30_000 });
    const count = (table: string, k: string) => scalar(`SELECT count(*)::int AS v FROM ${table} WHERE key = $1`, [k]);
    for (let i = 0; i < 50 && (await count('dlock_locks_claims', `${key}:old`)) !== 0; i++) await sleep(20);
    expect(await count('dlock_locks_claims', `${key}:old`)).toBe(0);
    expect(await count('dlock_locks_claims', `${key}:live`)).toBe(1);
    expect(await count('dlock_locks_claim_keys', `${key}:live`)).toBe(1);
    expect(await count('dlock_locks_claim_keys', `${key}:idle`)).toBe(0);
    expect(live.held).toBe(true);
    await expect(old.release()).rejects.toThrow();
    await live.release();
    await h!.release();
  });
});

describe('the statements', () => {
  it('one per operation (admission is one function call), one per watchdog tick, none with session state', async () => {
    const inner = new pg.Pool({ connectionString: server.url, connectionTimeoutMillis: 5_000 });
    defer(() => inner.end());
    const { pool, statements } = recording(inner);
    const sem = track(new PostgresSemaphore(pool));
    const key = uniqueKey();
    const handles = await Promise.all(Array.from({ length: 4 }, (_, i) => sem.acquire(`${key}:${i}`, { limit: 2, ttl: 900 })));
    expect(statements.filter((text) => text.includes('_claim_acquire"(')).length).toBe(4);
    statements.length = 0;
    for (const h of handles) sem.autoRenew(h);
    await sleep(1_500);
    const renewals = statements.filter((text) => text.includes('unnest('));
    expect(renewals.length).toBeGreaterThanOrEqual(3);
    expect(renewals.length).toBeLessThanOrEqual(8);
    expect(handles.every((h) => h.held)).toBe(true);
    statements.length = 0;
    await Promise.all(handles.map((h) => h.release()));
    expect(statements).toHaveLength(4);
    for (const text of statements) expect(text).not.toMatch(/^\s*(SET|PREPARE|LISTEN|BEGIN|DECLARE)\b/i);
  });

  it('a pg.Client serves statements and LISTEN; close() leaves it open', async () => {
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    defer(() => client.end());
    const a = track(new PostgresReadWriteLock(client));
    const b = rwLock();
    const key = uniqueKey();
    const w = await b.writeLock(key, { ttl: 30_000 });
    const reading = a.readLock(key, { ttl: 5_000, waitTimeout: 5_000 });
    await sleep(200);
    const released = performance.now();
    await w.release();
    const r = await reading;
    expect(performance.now() - released).toBeLessThan(500);
    await r.release();
    await a.close();
    expect((await client.query('SELECT 1 AS v')).rows[0].v).toBe(1);
  });
});

describe('validation before any I/O', () => {
  it.each([
    ['table', 'a'.repeat(50)],
    ['table', 'drop table x;'],
    ['schema', 'my-schema'],
    ['channel', 'x"; NOTIFY y; --'],
    ['listen', 42],
    ['operationTimeout', 0],
  ])('%s = %j is an InvalidOptionError for both, and nothing connects', async (option, value) => {
    const pool = new pg.Pool({ connectionString: server.url });
    let connects = 0;
    pool.on('connect', () => connects++);
    expect(() => new PostgresReadWriteLock(pool, { [option]: value })).toThrow(new RegExp(option));
    expect(() => new PostgresSemaphore(pool, { [option]: value })).toThrow(InvalidOptionError);
    await sleep(20);
    expect(connects).toBe(0);
    await pool.end();
  });

  it('names its defaults, keeps the longest table name whole, and names a misspelt option', async () => {
    const rw = rwLock();
    expect([rw.table, rw.channel, rw.schema]).toEqual(['dlock_locks', 'dlock_locks_claims', undefined]);
    const table = `T${'a'.repeat(48)}`;
    const sem = semaphore({ table });
    await sem.migrate();
    expect(await scalar('SELECT count(*)::int AS v FROM pg_proc WHERE proname = $1', [`${table}_claim_acquire`])).toBe(1);
    const h = await sem.tryAcquire(uniqueKey(), { limit: 1 });
    await h!.release();
    expect(() => new PostgresSemaphore(server.url, { tabel: 'x' } as never)).toThrow(/unknown option "tabel" for new PostgresSemaphore\(\): did you mean "table"\?/);
    expect(() => new PostgresReadWriteLock({} as never)).toThrow(InvalidOptionError);
  });
});
