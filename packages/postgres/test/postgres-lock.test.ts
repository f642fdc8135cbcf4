import { InvalidOptionError, LockBackendError } from '@dlock/core';
import { startPostgres, uniqueKey, type PostgresServer } from '@dlock/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationSql, PostgresLock, PostgresNotMigratedError } from '../src/index.js';
import { adminPool } from './helpers/admin-pool.js';

// What the contract cannot know: the table and its migration, the not-migrated error, fencing
// across deleted rows, stored keys, identifier and option validation.
let server: PostgresServer;
let admin: pg.Pool;
const opened: PostgresLock[] = [];
const open = (options: ConstructorParameters<typeof PostgresLock>[1] = {}): PostgresLock => {
  const lock = new PostgresLock(server.url, options);
  opened.push(lock);
  return lock;
};

beforeAll(async () => {
  server = await startPostgres();
  admin = adminPool(server.url);
});
afterAll(async () => {
  await Promise.allSettled(opened.map((lock) => lock.close()));
  await admin?.end();
  await server?.stop();
});

const scalar = async (sql: string, values: unknown[] = []): Promise<unknown> => (await admin.query(sql, values)).rows[0]?.v;

describe('migrate()', () => {
  it('creates the table and its sequence, idempotently, also from several instances at once', async () => {
    const locks = [open({ table: 'mig_a' }), open({ table: 'mig_a' }), open({ table: 'mig_a' })];
    await Promise.all(locks.map((lock) => lock.migrate()));
    await locks[0]!.migrate();
    expect(await scalar("SELECT count(*)::int AS v FROM pg_class WHERE relname IN ('mig_a', 'mig_a_fence')")).toBe(2);
    const h = await locks[1]!.lock(uniqueKey(), { ttl: 5_000 });
    expect(h.fencingToken).toBeGreaterThan(0n);
    await h.release();
  });

  it('creates them in the given schema, which must exist', async () => {
    await admin.query('CREATE SCHEMA IF NOT EXISTS app');
    const lock = open({ schema: 'app' });
    await lock.migrate();
    expect(await scalar("SELECT count(*)::int AS v FROM pg_tables WHERE schemaname = 'app' AND tablename = 'dlock_locks'")).toBe(1);
    const missing = open({ schema: 'no_such_schema' });
    await expect(missing.migrate()).rejects.toThrow(/no_such_schema/);
  });

  it('migrationSql() is the SQL migrate() runs, and the README shows it for the defaults', async () => {
    expect(migrationSql()).toContain('CREATE TABLE IF NOT EXISTS "dlock_locks"');
    expect(migrationSql({ schema: 'app', table: 'locks' })).toContain('CREATE SEQUENCE IF NOT EXISTS "app"."locks_fence"');
    const { readFileSync } = await import('node:fs');
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(migrationSql().trim());
    // Applied by hand (a migration tool), it gives a working table.
    await admin.query(migrationSql({ table: 'by_hand' }));
    const h = await open({ table: 'by_hand' }).tryLock(uniqueKey());
    expect(h).not.toBeNull();
    await h!.release();
  });
});

describe('before migrate()', () => {
  it('every call fails with a LockBackendError caused by PostgresNotMigratedError, which says to run migrate()', async () => {
    const lock = open({ table: 'never_migrated' });
    const error = await lock.tryLock(uniqueKey()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockBackendError);
    const cause = (error as Error).cause;
    expect(cause).toBeInstanceOf(PostgresNotMigratedError);
    expect((cause as Error).message).toMatch(/"never_migrated".*run `await lock.migrate\(\)`/);
    expect((error as Error).message).toMatch(/migrate\(\)/);
    await expect(lock.inspect(uniqueKey())).rejects.toThrow(/migrate\(\)/);
  });

  it('a waiting lock() fails at once instead of retrying until its deadline (not transient)', async () => {
    const lock = open({ schema: 'missing_schema' });
    const started = performance.now();
    const error = await lock.lock(uniqueKey(), { waitTimeout: 5_000 }).catch((e: unknown) => e);
    expect((error as Error).cause).toBeInstanceOf(PostgresNotMigratedError);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

describe('leases in the table', () => {
  beforeAll(async () => {
    await open().migrate();
  });

  it('fencing tokens keep increasing across holders, instances and deleted rows', async () => {
    const a = open();
    const b = open();
    const key = uniqueKey();
    const fences: bigint[] = [];
    for (const lock of [a, b, a]) {
      const h = await lock.lock(key, { ttl: 5_000 });
      fences.push(h.fencingToken);
      await h.release();
      // As the opportunistic cleanup (or an operator) would: the row is gone, the sequence is not.
      await admin.query('DELETE FROM dlock_locks WHERE key = $1', [key]);
    }
    const expired = await b.lock(key, { ttl: 50 });
    fences.push(expired.fencingToken);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const taken = await a.lock(key, { ttl: 5_000 });
    fences.push(taken.fencingToken);
    await taken.release();
    for (let i = 1; i < fences.length; i++) expect(fences[i]!).toBeGreaterThan(fences[i - 1]!);
  });

  it('a released row stays (its lease ended) until the cleanup deletes it; inspect reports the live holder only', async () => {
    const lock = open();
    const key = uniqueKey();
    const h = await lock.lock(key, { ttl: 60_000 });
    const info = await lock.inspect(key);
    expect(info).toMatchObject({ key, holder: h.token.slice(0, 8), fencingToken: h.fencingToken });
    expect(info!.ttlRemaining).toBeGreaterThan(55_000);
    const row = await admin.query('SELECT token, fence::text AS fence, expires_at > now() AS live FROM dlock_locks WHERE key = $1', [key]);
    expect(row.rows[0]).toEqual({ token: h.token, fence: String(h.fencingToken), live: true });
    await h.release();
    expect(await lock.inspect(key)).toBeNull();
    expect(await scalar('SELECT count(*)::int AS v FROM dlock_locks WHERE key = $1 AND expires_at <= now()', [key])).toBe(1);
  });

  it('keys with NUL and U+FFFF are stored without loss, distinct from look-alikes, and their waiters are woken', async () => {
    const a = open();
    const b = open();
    const base = uniqueKey();
    const keys = [`${base}\u0000x`, `${base}\uFFFF0x`, `${base}\uFFFFx`, `${base}\uFFFF1`];
    const handles = await Promise.all(keys.map((k) => a.tryLock(k, { ttl: 30_000 })));
    expect(handles.every((h) => h !== null)).toBe(true);
    for (const k of keys) expect(await b.isLocked(k)).toBe(true);
    const waiting = b.lock(keys[0]!, { ttl: 5_000, waitTimeout: 5_000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const released = performance.now();
    await handles[0]!.release();
    const next = await waiting;
    expect(performance.now() - released).toBeLessThan(500);
    await next.release();
    for (const h of handles.slice(1)) await h!.release();
  });
});

describe('validation before any I/O', () => {
  const countingPool = () => {
    const pool = new pg.Pool({ connectionString: server.url });
    let connects = 0;
    pool.on('connect', () => connects++);
    return { pool, connects: () => connects };
  };

  it.each([
    ['table', 'drop table x;'],
    ['table', '1abc'],
    ['table', ''],
    ['table', 'a'.repeat(58)],
    ['table', 42],
    ['schema', 'my-schema'],
    ['schema', 'a'.repeat(64)],
    ['channel', 'x"; NOTIFY y; --'],
    ['channel', null],
    ['listen', 42],
    ['listen', ''],
    ['operationTimeout', 0],
    ['defaultTtl', -1],
  ])('%s = %j is an InvalidOptionError, and nothing connects', async (option, value) => {
    const { pool, connects } = countingPool();
    expect(() => new PostgresLock(pool, { [option]: value })).toThrow(InvalidOptionError);
    expect(() => new PostgresLock(pool, { [option]: value })).toThrow(new RegExp(option));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(connects()).toBe(0);
    expect(pool.totalCount).toBe(0);
    await pool.end();
  });

  it('a misspelt option names the right one; a bad client argument is refused', () => {
    expect(() => new PostgresLock(server.url, { tabel: 'x' } as never)).toThrow(/unknown option "tabel" for new PostgresLock\(\): did you mean "table"\?/);
    for (const bad of [42, {}, '', '  ', null, { query: 'no' }]) {
      expect(() => new PostgresLock(bad as never)).toThrow(InvalidOptionError);
    }
    expect(() => migrationSql({ table: 'x; DROP TABLE y' })).toThrow(InvalidOptionError);
  });

  it('accepts the longest names PostgreSQL keeps whole, and uses them as given (quoted, case kept)', async () => {
    const table = `T${'a'.repeat(56)}`;
    const lock = open({ table, channel: `C${'b'.repeat(62)}` });
    await lock.migrate();
    expect(await scalar('SELECT count(*)::int AS v FROM pg_class WHERE relname IN ($1, $2)', [table, `${table}_fence`])).toBe(2);
    const h = await lock.tryLock(uniqueKey());
    await h!.release();
  });
});
