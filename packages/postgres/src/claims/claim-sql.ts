import { CLEANUP_BATCH, ROW_RETENTION_SECONDS } from '../sql.js';

/** The quoted names of the claims tables, their function and their sequence, for one `table` option. */
export interface ClaimNames {
  /** `"dlock_locks_claims"`: one row per holder and per waiting caller. */
  readonly claims: string;
  /** `"dlock_locks_claim_keys"`: one row per key, locked while an acquire decides. */
  readonly keys: string;
  /** `"dlock_locks_claim_acquire"`: the admission function. */
  readonly acquire: string;
  /** The fence sequence the mutex of the same `table` uses too: `"dlock_locks_fence"`. */
  readonly sequence: string;
  /** The notification channel, unquoted. */
  readonly channel: string;
}

/** Appended to the `table` option; the longest decides how long `table` may be. */
export const CLAIM_SUFFIXES = Object.freeze({ claims: '_claims', keys: '_claim_keys', acquire: '_claim_acquire', sequence: '_fence' });
/** The longest `table` whose every derived name stays within PostgreSQL's 63 bytes. */
export const MAX_CLAIM_TABLE = 63 - Math.max(...Object.values(CLAIM_SUFFIXES).map((s) => s.length));

/** Quoted names for a validated table, schema and channel. */
export function claimNames(table: string, schema: string | undefined, channel: string): ClaimNames {
  const qualify = (suffix: string): string => (schema === undefined ? `"${table}${suffix}"` : `"${schema}"."${table}${suffix}"`);
  return {
    claims: qualify(CLAIM_SUFFIXES.claims),
    keys: qualify(CLAIM_SUFFIXES.keys),
    acquire: qualify(CLAIM_SUFFIXES.acquire),
    sequence: qualify(CLAIM_SUFFIXES.sequence),
    channel,
  };
}

/**
 * The statements of the claims tables, each a single statement (safe behind a transaction
 * pooler). Keys are stored keys; `$ttl` parameters are integers in ms.
 */
export interface ClaimStatements {
  /**
   * `$1` key, `$2` token, `$3` ttl, `$4` kind, `$5` permits, `$6` limit, `$7` waiting, `$8` ms a
   * place outlives the retry delay, `$9` channel. One row: `outcome` 1 (admitted, `value` the
   * fence), 0 (not admitted, `value` the retry delay in ms or -1) or 2 (another limit, `value` it).
   */
  readonly acquire: string;
  /** `$1` key, `$2` token, `$3` channel. Deletes the holder's row and notifies; one row (`live`: its lease had not ended) if it was there. */
  readonly release: string;
  /** `$1` key, `$2` token, `$3` channel. Deletes a waiter's place and notifies; one row if it was there. */
  readonly leave: string;
  /** `$1` key, `$2` token, `$3` channel. Deletes whatever row the token has (after a failed acquire) and notifies. */
  readonly forget: string;
  /** `$1` key, `$2` token, `$3` ttl. Extends a live holder's lease; rowCount 1 if renewed. */
  readonly renew: string;
  /** `$1` keys, `$2` tokens, `$3` ttls (arrays). Extends every live holder's lease; returns their tokens. */
  readonly renewMany: string;
  /** `$1` key. `waiting` (live places), then per live holder (if any) `token`, `kind`, `permits`, `permit_limit`, `fence`, `ttl`. */
  readonly inspect: string;
  /** Deletes rows that ended more than a minute ago and key rows without claims (up to a batch each); `n` deleted. */
  readonly cleanup: string;
}

const ms = (param: string): string => `${param}::integer * interval '1 millisecond'`;
const msLeft = (column: string): string => `extract(epoch FROM ${column} - now())::float8 * 1000`;

/** Builds the statements for the names of one claims table. */
export function claimStatements({ claims, keys, acquire }: ClaimNames): ClaimStatements {
  const deleteAndNotify = (where: string, returning: string): string => `WITH gone AS (
  DELETE FROM ${claims} WHERE key = $1 AND token = $2${where} RETURNING ${returning}
)
SELECT gone.*, pg_notify($3, $1) FROM gone`;
  return {
    acquire: `SELECT outcome, value FROM ${acquire}($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    release: deleteAndNotify(' AND fence IS NOT NULL', 'expires_at > now() AS live'),
    leave: deleteAndNotify(' AND fence IS NULL', '1 AS left'),
    forget: deleteAndNotify('', '1 AS forgotten'),
    renew: `UPDATE ${claims} SET expires_at = now() + ${ms('$3')}
WHERE key = $1 AND token = $2 AND fence IS NOT NULL AND expires_at > now()`,
    renewMany: `UPDATE ${claims} AS c SET expires_at = now() + r.ttl * interval '1 millisecond'
FROM unnest($1::text[], $2::text[], $3::integer[]) AS r(key, token, ttl)
WHERE c.key = r.key AND c.token = r.token AND c.fence IS NOT NULL AND c.expires_at > now()
RETURNING c.token`,
    inspect: `SELECT w.waiting, h.token, h.kind, h.permits, h.permit_limit, h.fence::text AS fence, ${msLeft('h.expires_at')} AS ttl
FROM (SELECT count(*)::integer AS waiting FROM ${claims} WHERE key = $1 AND fence IS NULL AND expires_at > now()) AS w
LEFT JOIN ${claims} AS h ON h.key = $1 AND h.fence IS NOT NULL AND h.expires_at > now()
ORDER BY h.fence`,
    cleanup: `WITH old AS (
  DELETE FROM ${claims} WHERE (key, token) IN (
    SELECT key, token FROM ${claims} WHERE expires_at < now() - interval '${ROW_RETENTION_SECONDS} seconds' LIMIT ${CLEANUP_BATCH} FOR UPDATE SKIP LOCKED
  ) RETURNING 1
), idle AS (
  DELETE FROM ${keys} WHERE key IN (
    SELECT k.key FROM ${keys} AS k WHERE NOT EXISTS (SELECT 1 FROM ${claims} AS c WHERE c.key = k.key) LIMIT ${CLEANUP_BATCH} FOR UPDATE SKIP LOCKED
  ) RETURNING 1
)
SELECT (SELECT count(*) FROM old)::integer + (SELECT count(*) FROM idle)::integer AS n`,
  };
}

/**
 * The admission function: the equivalent of the Redis claims script, in one call (one
 * statement, so one implicit transaction, safe behind a transaction pooler). Each statement of a
 * PL/pgSQL function takes a new snapshot, so once the key's row is locked every read sees the
 * claims committed before: admissions of one key run one at a time, as a Lua script does.
 *
 * The rule is core's `Admission`: a key's group is its holders and the callers queued before
 * the caller (every queued caller for a newcomer or a single attempt); `exclusive` fits an empty
 * group, `shared` a group of `shared` claims, `permits` a group of `permits` claims with room
 * for its own within the limit.
 */
function acquireFunction({ claims, keys, acquire, sequence }: ClaimNames): string {
  return `CREATE OR REPLACE FUNCTION ${acquire}(
  p_key text, p_token text, p_ttl integer, p_kind text, p_permits integer, p_limit integer,
  p_waiting boolean, p_place integer, p_channel text, OUT outcome integer, OUT value text
) LANGUAGE plpgsql AS $dlock$
DECLARE
  v_fence bigint;
  v_arrival bigint;
  v_limit integer;
  v_count integer;
  v_shared integer;
  v_holding integer;
  v_used bigint;
  v_soonest timestamptz;
  v_fits boolean;
  v_retry bigint := -1;
  v_purged integer;
BEGIN
  -- The key's row, locked until this call commits: one admission of the key at a time. The
  -- cleanup may delete an unlocked row meanwhile: then it is inserted again.
  LOOP
    PERFORM 1 FROM ${keys} WHERE key = p_key FOR UPDATE;
    EXIT WHEN FOUND;
    INSERT INTO ${keys} (key) VALUES (p_key) ON CONFLICT DO NOTHING;
  END LOOP;

  -- Ended leases and places go; whoever waits may fit now.
  DELETE FROM ${claims} WHERE key = p_key AND expires_at <= now();
  GET DIAGNOSTICS v_purged = ROW_COUNT;
  IF v_purged > 0 THEN PERFORM pg_notify(p_channel, p_key); END IF;

  -- Held already (a request sent again): the same fence.
  SELECT fence INTO v_fence FROM ${claims} WHERE key = p_key AND token = p_token AND fence IS NOT NULL;
  IF FOUND THEN outcome := 1; value := v_fence::text; RETURN; END IF;

  IF p_kind = 'permits' THEN
    SELECT permit_limit INTO v_limit FROM ${claims} WHERE key = p_key AND kind = 'permits' AND permit_limit <> p_limit LIMIT 1;
    IF FOUND THEN outcome := 2; value := v_limit::text; RETURN; END IF;
  END IF;

  -- The group: every holder, and every caller queued before this one (all of them if it is not queued).
  SELECT arrival INTO v_arrival FROM ${claims} WHERE key = p_key AND token = p_token AND fence IS NULL;
  SELECT count(*), count(*) FILTER (WHERE kind = 'shared'), count(*) FILTER (WHERE kind = 'permits'),
         coalesce(sum(permits) FILTER (WHERE kind = 'permits'), 0), min(expires_at)
    INTO v_count, v_shared, v_holding, v_used, v_soonest
    FROM ${claims}
    WHERE key = p_key AND token <> p_token AND (fence IS NOT NULL OR v_arrival IS NULL OR arrival < v_arrival);
  v_fits := CASE p_kind
    WHEN 'exclusive' THEN v_count = 0
    WHEN 'shared' THEN v_shared = v_count
    ELSE v_holding = v_count AND v_used + p_permits <= p_limit
  END;

  IF v_fits THEN
    v_fence := nextval('${sequence}');
    INSERT INTO ${claims} (key, token, kind, permits, permit_limit, fence, arrival, expires_at)
      VALUES (p_key, p_token, p_kind, p_permits, p_limit, v_fence, NULL, now() + p_ttl * interval '1 millisecond')
      ON CONFLICT (key, token) DO UPDATE SET fence = excluded.fence, arrival = NULL, expires_at = excluded.expires_at;
    outcome := 1; value := v_fence::text; RETURN;
  END IF;

  IF v_soonest IS NOT NULL THEN
    v_retry := greatest(0, ceil(extract(epoch FROM v_soonest - now()) * 1000))::bigint;
  END IF;
  IF p_waiting THEN
    -- Take a place at the end of the line, or keep the one held (its end moves on).
    INSERT INTO ${claims} (key, token, kind, permits, permit_limit, fence, arrival, expires_at)
      VALUES (p_key, p_token, p_kind, p_permits, p_limit, NULL,
              coalesce((SELECT max(arrival) FROM ${claims} WHERE key = p_key), 0) + 1,
              now() + (greatest(v_retry, 0) + p_place) * interval '1 millisecond')
      ON CONFLICT (key, token) DO UPDATE SET expires_at = excluded.expires_at;
  END IF;
  outcome := 0; value := v_retry::text;
END
$dlock$;
`;
}

/** The SQL that creates the claims tables, the admission function and the fence sequence, idempotently. */
export function claimMigrationSqlFor(names: ClaimNames, lockName: string): string {
  return `SELECT pg_advisory_xact_lock(hashtext('dlock migrate ${lockName}'));
CREATE SEQUENCE IF NOT EXISTS ${names.sequence} AS bigint CACHE 1;
CREATE TABLE IF NOT EXISTS ${names.claims} (
  key          text COLLATE "C" NOT NULL,
  token        text        NOT NULL,
  kind         text        NOT NULL CHECK (kind IN ('exclusive', 'shared', 'permits')),
  permits      integer     NOT NULL,
  permit_limit integer     NOT NULL,
  fence        bigint,
  arrival      bigint,
  expires_at   timestamptz NOT NULL,
  PRIMARY KEY (key, token)
) WITH (fillfactor = 80);
CREATE TABLE IF NOT EXISTS ${names.keys} (
  key text COLLATE "C" PRIMARY KEY
);
${acquireFunction(names)}`;
}
