// dlock's PostgreSQL backend as a bench contender: PostgresLock over a pg.Pool of pg's default
// size (the pool the raw loop gets too) and its own LISTEN connection, on the bench's lock table.
// Variant 'nohandover': maxLocalHandOvers 0, so every release goes through the table and NOTIFY
// (by default a release with a waiter of the same process queued hands the lock straight to it).
import { benchPool } from '../raw/postgres.mjs';

export async function dlockPostgres({ env, variant }) {
  const { PostgresLock } = await import('@dlock/postgres');
  const pool = benchPool(env.postgresUrl);
  const lock = new PostgresLock(pool, variant === 'nohandover' ? { maxLocalHandOvers: 0 } : {});
  await lock.migrate();
  return {
    async acquire(key, ttl) {
      const handle = await lock.lock(key, { ttl });
      return () => handle.release();
    },
    async close() {
      await lock.close();
      await pool.end();
    },
  };
}
