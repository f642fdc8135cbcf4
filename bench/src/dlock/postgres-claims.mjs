// dlock's PostgreSQL read-write lock and semaphore as bench contenders, each over a pg.Pool of
// pg's default size (the pool the raw loops get too) and its own LISTEN connection, on the
// bench's default tables (`dlock_locks_claims`, created by migrate()).
//   dlock-postgres-semaphore: PostgresSemaphore, every acquisition one permit of `limit`.
//   dlock-postgres-rw:        PostgresReadWriteLock; acquire() takes the write lock, acquireRead() a read lock.
import { benchPool } from '../raw/postgres.mjs';
import { rwContender, semaphoreContender } from './claim-contenders.mjs';

/** `make(pool)` over a new bench pool, migrated; close() closes it, then ends the pool. */
async function onPool(url, make) {
  const pool = benchPool(url);
  const primitive = make(pool);
  try {
    await primitive.migrate();
  } catch (error) {
    await primitive.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
    throw error;
  }
  const close = async () => {
    await primitive.close();
    await pool.end();
  };
  return { primitive, close };
}

export async function dlockPostgresSemaphore({ env, limit = 4 }) {
  const { PostgresSemaphore } = await import('@dlock/postgres');
  const { primitive: sem, close } = await onPool(env.postgresUrl, (pool) => new PostgresSemaphore(pool));
  return semaphoreContender(sem, limit, close);
}

export async function dlockPostgresRW({ env }) {
  const { PostgresReadWriteLock } = await import('@dlock/postgres');
  const { primitive: rw, close } = await onPool(env.postgresUrl, (pool) => new PostgresReadWriteLock(pool));
  return rwContender(rw, close);
}
