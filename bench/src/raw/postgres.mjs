// The raw PostgreSQL loops of the bench.
//   raw-postgres:          the lease loop with no library around it: the same table layout and
//                          the same two statements @dlock/postgres sends for a lock and an
//                          unlock (packages/postgres/src/sql.ts: one INSERT ... ON CONFLICT with
//                          its held-branch, one owner-checked UPDATE with pg_notify), through a
//                          pg.Pool of pg's default size; polls every `poll` ms while the key is
//                          held (variant `poll:<ms>`, default 1 ms).
//   raw-postgres-advisory: pg_advisory_lock, a session advisory lock, on a dedicated connection
//                          per waiter (the lock belongs to the session, so each waiter needs its
//                          own): the server's own wait queue, with no lease and no fencing token.
import { randomUUID } from 'node:crypto';
import pg from 'pg';

/** The bench's lock table (the layout of `migrationSql()`, default names). */
export const TABLE = 'dlock_locks';
const SEQUENCE = `${TABLE}_fence`;

export const MIGRATION = `SELECT pg_advisory_xact_lock(hashtext('dlock migrate ${TABLE}'));
CREATE SEQUENCE IF NOT EXISTS "${SEQUENCE}" AS bigint CACHE 1;
CREATE TABLE IF NOT EXISTS "${TABLE}" (
  key        text COLLATE "C" PRIMARY KEY,
  token      text        NOT NULL,
  fence      bigint      NOT NULL,
  expires_at timestamptz NOT NULL
) WITH (fillfactor = 80);`;

/** `$1` key, `$2` token, `$3` ttl ms: one row, `fence` when taken, else `ttl` (ms left of the holder's lease). */
export const ACQUIRE = `WITH acquired AS (
  INSERT INTO "${TABLE}" AS l (key, token, fence, expires_at)
  VALUES ($1, $2, nextval('"${SEQUENCE}"'), now() + $3::integer * interval '1 millisecond')
  ON CONFLICT (key) DO UPDATE SET token = excluded.token, fence = nextval('"${SEQUENCE}"'), expires_at = excluded.expires_at
    WHERE l.expires_at <= now()
  RETURNING l.fence
)
SELECT fence::text AS fence, NULL::float8 AS ttl FROM acquired
UNION ALL
SELECT NULL, extract(epoch FROM h.expires_at - now())::float8 * 1000 FROM "${TABLE}" h WHERE h.key = $1 AND NOT EXISTS (SELECT 1 FROM acquired)`;

/** `$1` key, `$2` token, `$3` channel: ends the lease if `$2` holds it and notifies `$3`. */
export const RELEASE = `WITH released AS (
  UPDATE "${TABLE}" SET expires_at = now() WHERE key = $1 AND token = $2 AND expires_at > now() RETURNING key
)
SELECT pg_notify($3, key) FROM released`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A pool of pg's default size (10), as the dlock contender gets; idle errors dropped. */
export function benchPool(url) {
  const pool = new pg.Pool({ connectionString: url, connectionTimeoutMillis: 10_000 });
  pool.on('error', () => undefined);
  return pool;
}

/** Creates the lock table once per server (idempotent, like `lock.migrate()`). */
export async function migrate(pool) {
  await pool.query(MIGRATION);
}

/** The pollInterval of a `poll:<ms>` variant (1 ms by default). */
export function pollOf(variant) {
  const m = /^poll:(\d+)$/.exec(variant ?? '');
  return m ? Number(m[1]) : 1;
}

/** The same statements as the driver, in a loop: acquire polls every `poll` ms while the key is held. */
export async function rawPostgres({ env, variant }) {
  const pool = benchPool(env.postgresUrl);
  await migrate(pool);
  const poll = pollOf(variant);
  return {
    async acquire(key, ttl) {
      const token = randomUUID().replaceAll('-', '');
      for (;;) {
        const { rows } = await pool.query(ACQUIRE, [key, token, ttl]);
        if (rows[0]?.fence != null) return async () => void (await pool.query(RELEASE, [key, token, TABLE]));
        await sleep(poll);
      }
    },
    close: () => pool.end(),
  };
}

/** 64-bit advisory lock id of a key (computed by the server, as an application would). */
const ADVISORY_LOCK = 'SELECT pg_advisory_lock(hashtextextended($1, 0))';
const ADVISORY_UNLOCK = 'SELECT pg_advisory_unlock(hashtextextended($1, 0))';

/**
 * pg_advisory_lock on a dedicated connection per concurrent caller: a caller takes an idle
 * connection (opening one when none is idle), blocks in the server until the lock is granted,
 * and gives the connection back after the unlock. The TTL is ignored: there is no lease.
 */
export async function rawPostgresAdvisory({ env }) {
  const idle = [];
  const all = new Set();
  const open = async () => {
    const client = new pg.Client({ connectionString: env.postgresUrl, connectionTimeoutMillis: 10_000 });
    client.on('error', () => undefined);
    await client.connect();
    all.add(client);
    return client;
  };
  idle.push(await open());
  return {
    async acquire(key) {
      const client = idle.pop() ?? (await open());
      try {
        await client.query(ADVISORY_LOCK, [key]);
      } catch (error) {
        idle.push(client);
        throw error;
      }
      return async () => {
        try {
          await client.query(ADVISORY_UNLOCK, [key]);
        } finally {
          idle.push(client);
        }
      };
    },
    async close() {
      await Promise.allSettled([...all].map((client) => client.end()));
    },
  };
}
