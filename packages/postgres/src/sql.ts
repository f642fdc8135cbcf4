import { fairMigrationSqlFor } from './fair-sql.js';
import { lockNames, type LockNames } from './names.js';

/** How long a released or expired row is kept before the opportunistic cleanup may delete it, in seconds. */
export const ROW_RETENTION_SECONDS = 60;
/** Most rows one cleanup statement deletes. */
export const CLEANUP_BATCH = 1_000;

/**
 * The statements of one lock table, each a single statement on the server's clock (`now()`),
 * safe behind a transaction-pooling proxy: no session state, no named prepared statements.
 * `$ttl` parameters are integers in ms; fences are read as text (bigint) and keys are stored
 * keys (see `storedKey`).
 */
export interface LockStatements {
  /**
   * `$1` key, `$2` token, `$3` ttl. Takes the key if it has no row or its row's lease ended
   * (released or expired), with a new fence from the sequence. One row: `fence` when acquired;
   * otherwise `ttl`, the ms left on the holder's lease (no row at all when the holder committed
   * after this statement's snapshot: then the remaining lease is unknown).
   */
  readonly acquire: string;
  /** `$1` key, `$2` token, `$3` channel. Ends the lease if `$2` holds it and notifies `$3` with the key; one row if released. */
  readonly release: string;
  /** `$1` key, `$2` token, `$3` ttl. Extends the lease if `$2` still holds it; rowCount 1 if renewed. */
  readonly renew: string;
  /** `$1` keys, `$2` tokens, `$3` ttls (arrays). Extends every lease still held by its token; returns their tokens. */
  readonly renewMany: string;
  /** `$1` key, `$2` holder's token, `$3` new token, `$4` ttl. Hands a held key to a new token with a new fence. */
  readonly transfer: string;
  /** `$1` key. The live holder: `token`, `fence`, `ttl` (ms left). */
  readonly inspect: string;
  /** Deletes up to {@link CLEANUP_BATCH} rows whose lease ended more than {@link ROW_RETENTION_SECONDS} ago. */
  readonly cleanup: string;
}

const ms = (param: string): string => `${param}::integer * interval '1 millisecond'`;
const msLeft = (column: string): string => `extract(epoch FROM ${column} - now())::float8 * 1000`;

/** Builds the statements for the names of one lock. */
export function lockStatements({ table, sequence }: LockNames): LockStatements {
  const nextFence = `nextval('${sequence}')`;
  return {
    acquire: `WITH acquired AS (
  INSERT INTO ${table} AS l (key, token, fence, expires_at)
  VALUES ($1, $2, ${nextFence}, now() + ${ms('$3')})
  ON CONFLICT (key) DO UPDATE SET token = excluded.token, fence = ${nextFence}, expires_at = excluded.expires_at
    WHERE l.expires_at <= now()
  RETURNING l.fence
)
SELECT fence::text AS fence, NULL::float8 AS ttl FROM acquired
UNION ALL
SELECT NULL, ${msLeft('h.expires_at')} FROM ${table} h WHERE h.key = $1 AND NOT EXISTS (SELECT 1 FROM acquired)`,
    release: `WITH released AS (
  UPDATE ${table} SET expires_at = now() WHERE key = $1 AND token = $2 AND expires_at > now() RETURNING key
)
SELECT pg_notify($3, key) FROM released`,
    renew: `UPDATE ${table} SET expires_at = now() + ${ms('$3')} WHERE key = $1 AND token = $2 AND expires_at > now()`,
    renewMany: `UPDATE ${table} AS l SET expires_at = now() + r.ttl * interval '1 millisecond'
FROM unnest($1::text[], $2::text[], $3::integer[]) AS r(key, token, ttl)
WHERE l.key = r.key AND l.token = r.token AND l.expires_at > now()
RETURNING l.token`,
    transfer: `UPDATE ${table} SET token = $3, fence = ${nextFence}, expires_at = now() + ${ms('$4')}
WHERE key = $1 AND token = $2 AND expires_at > now()
RETURNING fence::text AS fence`,
    inspect: `SELECT token, fence::text AS fence, ${msLeft('expires_at')} AS ttl FROM ${table} WHERE key = $1 AND expires_at > now()`,
    cleanup: `DELETE FROM ${table} WHERE key IN (
  SELECT key FROM ${table} WHERE expires_at < now() - interval '${ROW_RETENTION_SECONDS} seconds' LIMIT ${CLEANUP_BATCH} FOR UPDATE SKIP LOCKED
)`,
  };
}

/** Where {@link migrationSql} creates the lock table. */
export interface MigrationTarget {
  /** @default 'dlock_locks' */
  table?: string;
  /** @default the connection's `search_path` (usually `public`) */
  schema?: string;
}

/** The SQL of `migrationSql()` for validated names (see there). */
export function migrationSqlFor(names: LockNames): string {
  return `SELECT pg_advisory_xact_lock(hashtext('dlock migrate ${names.table.replaceAll('"', '')}'));
CREATE SEQUENCE IF NOT EXISTS ${names.sequence} AS bigint CACHE 1;
CREATE TABLE IF NOT EXISTS ${names.table} (
  key        text COLLATE "C" PRIMARY KEY,
  token      text        NOT NULL,
  fence      bigint      NOT NULL,
  expires_at timestamptz NOT NULL
) WITH (fillfactor = 80);
${fairMigrationSqlFor(names)}`;
}

/** {@link migrationSqlFor} of names not validated yet (the channel plays no part). */
export function namesForMigration(table: string, schema: string | undefined): LockNames {
  return lockNames(table, schema, table);
}
