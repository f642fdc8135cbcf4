import type { LockNames } from './names.js';

/**
 * The statements of a fair lock (the default): the mutex's statements (see sql.ts) plus a wait
 * list, `<table>_waits` (key, token, arrival, place_until). A caller that waits keeps a place in
 * it; a free key goes only to the first caller whose place is kept (or to anyone when nobody
 * waits); a release notifies the key with that caller's token, so that only it tries. A place
 * lasts the retry delay it was answered plus `$place` ms, so the waiters of a process that died
 * stop holding up the line soon after. Every statement is one statement on the server's clock
 * (no session state: PgBouncer in transaction mode is fine). Fences are read as text (bigint),
 * keys are stored keys, `$mark` is names.ts's `NEXT_WAITER_MARK` (between the key and the token in a
 * notification).
 */
export interface FairLockStatements {
  /**
   * `$1` key, `$2` token, `$3` ttl, `$4` waiting (boolean), `$5` place ms. One row: `fence` when
   * acquired (the caller's place, if any, is gone); otherwise `ttl`: the ms left on the holder's
   * lease, or, when the key is free but another caller is first in line, until that caller's
   * place ends, at most 1 000 (NULL: unknown). A waiting caller takes (or keeps) its place.
   */
  readonly acquire: string;
  /**
   * `$1` key, `$2` token, `$3` channel, `$4` place ms, `$5` mark. Ends the lease if `$2` holds
   * it and notifies `key`, or `key <mark> <first waiter's token>`, whose place is shortened to
   * `$4` ms from now. One row if released: `next`, that token or NULL.
   */
  readonly release: string;
  /**
   * `$1` key, `$2` holder's token, `$3` taker's token, `$4` ttl, `$5` channel, `$6` place ms,
   * `$7` mark. Hands the held key to `$3` with a new fence if `$3` is first in line; releases it
   * otherwise (as `release`). One row: `outcome` 2 and `value` the fence when handed over, 1 and
   * the first waiter's token ('' for none) when released; no row when `$2` did not hold it.
   */
  readonly transfer: string;
  /**
   * `$1` key, `$2` holder's token, `$3` taker's token, `$4` ttl. Hands the held key to `$3`
   * with a new fence wherever `$3` stands in line (it is in the holder's instance's turn); its
   * place, if it has one, goes. One row, `fence`, when handed over; none when `$2` did not hold it.
   */
  readonly turnTransfer: string;
  /**
   * `$1` key, `$2` token, `$3` channel, `$4` place ms, `$5` mark. A waiting caller gave up: its
   * place goes; when it was first in line and the key is free, the next waiter is notified (one
   * row: `next`).
   */
  readonly leave: string;
  /** Deletes up to `$1` places that ended more than `$2` seconds ago. */
  readonly cleanup: string;
}

const ms = (param: string): string => `${param}::integer * interval '1 millisecond'`;
const msLeft = (column: string): string => `extract(epoch FROM ${column} - now())::float8 * 1000`;

/** Builds the fair statements for the names of one lock. */
export function fairLockStatements({ table, sequence, waits }: LockNames): FairLockStatements {
  const nextFence = `nextval('${sequence}')`;
  // The first caller in line whose place is kept (places that ended are skipped, then cleaned up).
  const head = `SELECT w.token, w.place_until FROM ${waits} w WHERE w.key = $1 AND w.place_until > now() ORDER BY w.arrival LIMIT 1`;
  // Shortens the place of the caller just told it is first: it comes now, unless its process died.
  const shorten = (token: string, place: string) =>
    `UPDATE ${waits} SET place_until = least(place_until, now() + ${ms(place)}) WHERE key = $1 AND token = ${token}`;
  return {
    acquire: `WITH head AS (${head}),
acquired AS (
  INSERT INTO ${table} AS l (key, token, fence, expires_at)
  SELECT $1, $2, ${nextFence}, now() + ${ms('$3')} WHERE NOT EXISTS (SELECT 1 FROM head WHERE head.token <> $2)
  ON CONFLICT (key) DO UPDATE SET token = excluded.token, fence = ${nextFence}, expires_at = excluded.expires_at
    WHERE l.expires_at <= now()
  RETURNING l.fence
),
answer AS (
  SELECT CASE
      WHEN h.expires_at > now() THEN ${msLeft('h.expires_at')}
      WHEN f.token <> $2 THEN least(1000, ${msLeft('f.place_until')})
    END AS ttl
  FROM (SELECT 1) AS one LEFT JOIN ${table} h ON h.key = $1 LEFT JOIN head f ON true
  WHERE NOT EXISTS (SELECT 1 FROM acquired)
),
placed AS (
  INSERT INTO ${waits} AS w (key, token, place_until)
  SELECT $1, $2, now() + (greatest(coalesce(a.ttl, 0), 0) + $5::integer) * interval '1 millisecond' FROM answer a WHERE $4::boolean
  ON CONFLICT (key, token) DO UPDATE SET place_until = excluded.place_until
),
taken AS (DELETE FROM ${waits} WHERE key = $1 AND token = $2 AND EXISTS (SELECT 1 FROM acquired))
SELECT fence::text AS fence, NULL::float8 AS ttl FROM acquired
UNION ALL
SELECT NULL, ttl FROM answer`,
    release: `WITH released AS (
  UPDATE ${table} SET expires_at = now() WHERE key = $1 AND token = $2 AND expires_at > now() RETURNING key
),
first AS (SELECT f.token FROM (${head}) f WHERE EXISTS (SELECT 1 FROM released)),
shortened AS (${shorten('(SELECT token FROM first)', '$4')})
SELECT f.token AS next FROM released r LEFT JOIN first f ON true,
  LATERAL (SELECT pg_notify($3, r.key || coalesce($5 || f.token, ''))) AS n`,
    transfer: `WITH first AS (${head}),
moved AS (
  UPDATE ${table} SET token = $3, fence = ${nextFence}, expires_at = now() + ${ms('$4')}
  WHERE key = $1 AND token = $2 AND expires_at > now() AND $3 = (SELECT token FROM first)
  RETURNING fence
),
released AS (
  UPDATE ${table} SET expires_at = now()
  WHERE key = $1 AND token = $2 AND expires_at > now() AND $3 IS DISTINCT FROM (SELECT token FROM first)
  RETURNING key
),
taken AS (DELETE FROM ${waits} WHERE key = $1 AND token = $3 AND EXISTS (SELECT 1 FROM moved)),
shortened AS (${shorten('(SELECT token FROM first)', '$6')} AND EXISTS (SELECT 1 FROM released))
SELECT 2 AS outcome, fence::text AS value FROM moved
UNION ALL
SELECT 1, coalesce(f.token, '') FROM released r LEFT JOIN first f ON true,
  LATERAL (SELECT pg_notify($5, r.key || coalesce($7 || f.token, ''))) AS n`,
    // The lock row first, then the wait list: the order every fair statement takes row locks in.
    turnTransfer: `WITH moved AS (
  UPDATE ${table} SET token = $3, fence = ${nextFence}, expires_at = now() + ${ms('$4')}
  WHERE key = $1 AND token = $2 AND expires_at > now()
  RETURNING fence
),
taken AS (DELETE FROM ${waits} WHERE key = $1 AND token = $3 AND EXISTS (SELECT 1 FROM moved))
SELECT fence::text AS fence FROM moved`,
    leave: `WITH gone AS (DELETE FROM ${waits} WHERE key = $1 AND token = $2 RETURNING arrival),
next AS (
  SELECT w.token FROM ${waits} w, gone g
  WHERE w.key = $1 AND w.token <> $2 AND w.place_until > now()
    AND NOT EXISTS (SELECT 1 FROM ${waits} e WHERE e.key = $1 AND e.token <> $2 AND e.place_until > now() AND e.arrival < g.arrival)
    AND NOT EXISTS (SELECT 1 FROM ${table} l WHERE l.key = $1 AND l.expires_at > now())
  ORDER BY w.arrival LIMIT 1
),
shortened AS (${shorten('(SELECT token FROM next)', '$4')})
SELECT n.token AS next FROM next n, LATERAL (SELECT pg_notify($3, $1 || $5 || n.token)) AS x`,
    cleanup: `DELETE FROM ${waits} WHERE (key, token) IN (
  SELECT key, token FROM ${waits} WHERE place_until < now() - $2::integer * interval '1 second' LIMIT $1::integer FOR UPDATE SKIP LOCKED
)`,
  };
}

/** The wait list's table and index, appended to the lock table's migration (idempotent). */
export function fairMigrationSqlFor({ waits, waitsIndex }: LockNames): string {
  return `CREATE TABLE IF NOT EXISTS ${waits} (
  key         text COLLATE "C" NOT NULL,
  token       text        NOT NULL,
  arrival     bigint      GENERATED ALWAYS AS IDENTITY,
  place_until timestamptz NOT NULL,
  PRIMARY KEY (key, token)
);
CREATE INDEX IF NOT EXISTS ${waitsIndex} ON ${waits} (key, arrival);
`;
}
