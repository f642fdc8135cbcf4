import { InvalidOptionError, LockBackendError } from '@dlock/core';
import { startPostgres, uniqueKey, type PostgresServer } from '@dlock/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresLock, PostgresNotMigratedError } from '../src/index.js';
import { adminPool } from './helpers/admin-pool.js';
import { cleanupAfterEach } from './helpers/cleanup.js';

// The wait list of a fair PostgresLock (the default), seen in its table: what the contract's
// fairness tests (order and shares across instances) cannot see.
let server: PostgresServer;
let admin: pg.Pool;
const { track } = cleanupAfterEach();
const open = (options: ConstructorParameters<typeof PostgresLock>[1] = {}): PostgresLock => track(new PostgresLock(server.url, options));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  server = await startPostgres();
  admin = adminPool(server.url);
  await open().migrate();
});
afterAll(async () => {
  await admin?.end();
  await server?.stop();
});

/** The tokens with a place in `key`'s line, in arrival order (ended places included). */
async function placesOf(key: string, table = 'dlock_locks'): Promise<string[]> {
  const result = await admin.query(`SELECT token FROM "${table}_waits" WHERE key = $1 ORDER BY arrival`, [key]);
  return result.rows.map((row: { token: string }) => row.token);
}

/** A place for `token` as a waiter of another process would have left it, ending in `ms`. */
async function putPlace(key: string, token: string, ms: number): Promise<void> {
  await admin.query(`INSERT INTO "dlock_locks_waits" (key, token, place_until) VALUES ($1, $2, now() + $3::integer * interval '1 millisecond')`, [key, token, ms]);
}

/** Resolves once `check` holds, or fails after `ms`. */
async function eventually(check: () => Promise<boolean>, ms = 5_000): Promise<void> {
  const until = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > until) throw new Error(`not within ${ms} ms`);
    await sleep(50);
  }
}

describe('options', () => {
  it('is fair by default; fair must be a boolean, checked before any I/O', () => {
    expect(open().fair).toBe(true);
    expect(open({ fair: false }).fair).toBe(false);
    expect(() => new PostgresLock(server.url, { fair: 'yes' as unknown as boolean })).toThrow(InvalidOptionError);
    expect(() => new PostgresLock(server.url, { fair: 'yes' as unknown as boolean })).toThrow(/fair.*a boolean.*"yes"/s);
  });

  it('a table migrated before the wait list existed: a fair lock says to run migrate(); fair: false works on it', async () => {
    // The migration of the first release: the table and its sequence only.
    await admin.query('CREATE SEQUENCE IF NOT EXISTS old_locks_fence AS bigint CACHE 1');
    await admin.query('CREATE TABLE IF NOT EXISTS old_locks (key text COLLATE "C" PRIMARY KEY, token text NOT NULL, fence bigint NOT NULL, expires_at timestamptz NOT NULL)');
    const error = await open({ table: 'old_locks' }).tryLock(uniqueKey()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockBackendError);
    expect((error as Error).cause).toBeInstanceOf(PostgresNotMigratedError);
    const unfair = await open({ table: 'old_locks', fair: false }).tryLock(uniqueKey());
    expect(unfair).not.toBeNull();
    await unfair!.release();
    await open({ table: 'old_locks' }).migrate();
    expect(await placesOf(uniqueKey(), 'old_locks')).toEqual([]);
  });
});

describe('the wait list', () => {
  it('a waiter takes a place when it has to wait and leaves it when it acquires; an uncontended lock() takes none', async () => {
    const a = open();
    const b = open();
    const key = uniqueKey();
    const held = await a.lock(key, { ttl: 10_000 });
    expect(await placesOf(key)).toEqual([]);
    const waiting = b.lock(key, { ttl: 10_000, waitTimeout: 8_000 });
    await eventually(async () => (await placesOf(key)).length === 1);
    await held.release();
    const next = await waiting;
    expect(await placesOf(key)).toEqual([]);
    await next.release();
  });

  it('a waiter that gives up leaves no place behind; when it was first for a free key, the next is told', async () => {
    const a = open();
    // Deaf (no LISTEN) and slow to poll: it hears of nothing, so it is still in line when it gives up.
    const b = open({ listen: false, maxRetryDelay: 5_000 });
    const c = open();
    const key = uniqueKey();
    const held = await a.lock(key, { ttl: 10_000 });
    const controller = new AbortController();
    const first = b.lock(key, { ttl: 10_000, signal: controller.signal }).catch((e: unknown) => e);
    await eventually(async () => (await placesOf(key)).length === 1);
    const [bToken] = await placesOf(key);
    const second = c.lock(key, { ttl: 10_000, waitTimeout: 8_000 });
    await eventually(async () => (await placesOf(key)).length === 2);
    // The release names b, first in line: c sleeps on (its last answer was the 10 s lease).
    await held.release();
    await sleep(300);
    expect(await a.isLocked(key)).toBe(false);
    const started = performance.now();
    controller.abort(new Error('gave up'));
    expect(await first).toMatchObject({ message: 'gave up' });
    // b's place is gone (c's goes too as soon as c, told, takes the key).
    expect(await placesOf(key)).not.toContain(bToken);
    const got = await second;
    // Told by the departure, well before the lease it was told to wait for would have ended.
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(await placesOf(key)).toEqual([]);
    await got.release();
  });

  it('tryLock() is refused while another caller keeps a place, even on a free key, and leaves no trace', async () => {
    const lock = open();
    const key = uniqueKey();
    await putPlace(key, 'f'.repeat(32), 600);
    expect(await lock.tryLock(key)).toBeNull();
    expect(await placesOf(key)).toEqual(['f'.repeat(32)]);
    await sleep(700);
    const h = await lock.tryLock(key);
    expect(h).not.toBeNull();
    await h!.release();
  });

  it("a waiter whose process died holds up the line only until its place ends", async () => {
    const lock = open();
    const key = uniqueKey();
    // First in line, never coming back: its place ends in 800 ms.
    await putPlace(key, 'd'.repeat(32), 800);
    const started = performance.now();
    const h = await lock.lock(key, { ttl: 5_000, waitTimeout: 8_000 });
    const waited = performance.now() - started;
    // Not before the dead place ended; soon after (the waiter behind it retries within 1 s).
    expect(waited).toBeGreaterThan(600);
    expect(waited).toBeLessThan(4_000);
    await h.release();
  });

  it('places that ended are deleted by the opportunistic cleanup', async () => {
    const key = uniqueKey();
    await admin.query(`INSERT INTO "dlock_locks_waits" (key, token, place_until) VALUES ($1, $2, now() - interval '5 minutes')`, [key, 'e'.repeat(32)]);
    // A new instance runs its first cleanup with its first acquire.
    const h = await open().lock(uniqueKey(), { ttl: 5_000 });
    await eventually(async () => (await placesOf(key)).length === 0);
    await h.release();
  });

  it('a local hand-over goes only to the caller first in line; otherwise the holder releases to it', async () => {
    const a = open({ maxLocalHandOvers: 8 });
    const b = open();
    const key = uniqueKey();
    const held = await a.lock(key, { ttl: 10_000 });
    const order: string[] = [];
    const remote = b.lock(key, { ttl: 10_000, waitTimeout: 8_000 }).then((h) => (order.push('b'), h));
    await eventually(async () => (await placesOf(key)).length === 1);
    const local = a.lock(key, { ttl: 10_000, waitTimeout: 8_000 }).then((h) => (order.push('a'), h));
    await eventually(async () => (await placesOf(key)).length === 2);
    await held.release();
    const first = await remote;
    expect(order).toEqual(['b']);
    await first.release();
    const second = await local;
    expect(order).toEqual(['b', 'a']);
    expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
    await second.release();
  });

  it('by instance turns: one place per instance, and a turn serves the waiters its instance had queued when it began', async () => {
    const [a, b, c] = [open(), open(), open()];
    const key = uniqueKey();
    const holder = await c.lock(key, { ttl: 10_000 });
    const order: string[] = [];
    const take = (lock: PostgresLock, name: string, holdMs: number) =>
      lock.lock(key, { ttl: 10_000, waitTimeout: 8_000 }).then(async (h) => {
        order.push(name);
        await sleep(holdMs);
        await h.release();
      });
    const waiters = [take(a, 'a1', 200)];
    await eventually(async () => (await placesOf(key)).length === 1);
    waiters.push(take(b, 'b1', 5));
    await eventually(async () => (await placesOf(key)).length === 2);
    waiters.push(take(a, 'a2', 5)); // behind a1's place, in a: no place of its own
    await sleep(100);
    expect((await placesOf(key)).length).toBe(2);
    await holder.release();
    await eventually(async () => order.length === 1);
    waiters.push(take(a, 'a3', 5)); // during a's turn: a's next place, behind b1
    await Promise.all(waiters);
    // Arrival order would be a1, b1, a2, a3; by turns a's turn takes a1 and a2, then b1, then a3.
    expect(order).toEqual(['a1', 'a2', 'b1', 'a3']);
    expect(await placesOf(key)).toEqual([]);
  });

  it('a notification that names nobody wakes the caller holding the instance place, not only the oldest waiter', async () => {
    // maxRetryDelay far above the test's bounds: only a wake-up brings a sleeping waiter back.
    const a = open({ maxLocalHandOvers: 1, maxRetryDelay: 30_000 });
    const c = open();
    const key = uniqueKey();
    const holder = await c.lock(key, { ttl: 60_000 });
    const got: string[] = [];
    const take = (name: string) =>
      a.lock(key, { ttl: 60_000, waitTimeout: 20_000 }).then((h) => {
        got.push(name);
        return h;
      });
    const a1 = take('a1');
    await eventually(async () => (await placesOf(key)).length === 1);
    const a2 = take('a2');
    const a2b = take('a2b');
    await sleep(50);
    await holder.release();
    const h1 = await a1; // a's turn: a2 and a2b were queued before it began
    const a3 = take('a3'); // a's next place
    await eventually(async () => (await placesOf(key)).length === 1);
    await h1.release(); // a hand-over to a2: the one maxLocalHandOvers allows
    const h2 = await a2;
    await admin.query(`UPDATE "dlock_locks" SET expires_at = now() WHERE key = $1`, [key]); // a2's lease ran out
    await h2.release().catch(() => undefined); // not held: nothing is notified
    await sleep(100);
    // The key is free and a3 is first in line; a2b (the oldest waiter here, no place) and a3 sleep.
    expect(got).toEqual(['a1', 'a2']);
    const sentAt = performance.now();
    await admin.query('SELECT pg_notify($1, $2)', ['dlock_locks', key]); // a release that names nobody
    const h3 = await a3;
    expect(performance.now() - sentAt).toBeLessThan(5_000);
    await h3.release(); // a3's turn: a2b, queued before it, next
    await (await a2b).release();
    expect(got).toEqual(['a1', 'a2', 'a3', 'a2b']);
  });
});
