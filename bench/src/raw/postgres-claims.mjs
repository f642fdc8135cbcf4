// A raw loop over dlock's PostgreSQL semaphore protocol: the admission function of the claims
// tables (`<table>_claim_acquire`, created by @dlock/postgres's claimsMigrationSql(), the SQL
// PostgresSemaphore's migrate() runs) called with pg, with the arguments PostgresSemaphore
// sends, and its owner-checked release (DELETE ... RETURNING with pg_notify) written out here; none
// of the library around them: no handles, validation, validity clock, watchdog, engine queue or
// cleanup. Statements go through a pg.Pool of pg's default size (the pool the dlock contender
// gets); one more connection LISTENs on the claims channel. Waiting is the protocol's own: a
// caller that is not admitted keeps its place in the key's line on the server (and in this
// process's PlaceQueue, in the same order) and sleeps until a notification of the key (or
// 100 ms, a safety net). Every release notifies, this process's own too (as PostgresSemaphore
// hears its own), and each notification wakes this process's first waiter of the key it is owed to.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { benchPool } from './postgres.mjs';
import { PlaceQueue } from './place-queue.mjs';

/** The claims tables of the bench (the default `table`, as the dlock contender uses them). */
const TABLE = 'dlock_locks';
const CLAIMS = `"${TABLE}_claims"`;
const ACQUIRE_FUNCTION = `"${TABLE}_claim_acquire"`;
/** The default channel of PostgresSemaphore: `<table>_claims`. */
const CHANNEL = `${TABLE}_claims`;
/** A waiter's place outlives the retry delay it was given by this much: core's waitListPlaceMs at maxRetryDelay 1 s. */
const PLACE_MS = 3_000;

/** `$1` key, `$2` token, `$3` ttl, `$4` limit: one permit, a caller that waits. One row: outcome 1 (value: the fence), 0 (value: retry ms or -1). */
const ACQUIRE = `SELECT outcome, value FROM ${ACQUIRE_FUNCTION}($1, $2, $3, 'permits', 1, $4, true, ${PLACE_MS}, '${CHANNEL}')`;

/** `$1` key, `$2` token: deletes the holder's row and notifies the channel. */
const RELEASE = `WITH gone AS (
  DELETE FROM ${CLAIMS} WHERE key = $1 AND token = $2 AND fence IS NOT NULL RETURNING expires_at > now() AS live
)
SELECT gone.live, pg_notify('${CHANNEL}', $1) FROM gone`;

/** `limit`: the permits of every key (each acquisition takes one). */
export async function rawPostgresSemaphore({ env, limit = 4 }) {
  const { claimsMigrationSql } = await import('@dlock/postgres');
  const pool = benchPool(env.postgresUrl);
  const listener = new pg.Client({ connectionString: env.postgresUrl, connectionTimeoutMillis: 10_000 });
  listener.on('error', () => undefined);
  const places = new PlaceQueue();
  try {
    await pool.query(claimsMigrationSql());
    await listener.connect();
    listener.on('notification', (message) => places.wake(message.payload));
    await listener.query(`LISTEN "${CHANNEL}"`);
  } catch (error) {
    await Promise.allSettled([pool.end(), listener.end()]);
    throw error;
  }
  return {
    async acquire(key, ttl) {
      const token = randomUUID().replaceAll('-', '');
      const place = places.join(key);
      try {
        for (;;) {
          places.attempting(place);
          const { rows } = await pool.query(ACQUIRE, [key, token, ttl, limit]);
          const { outcome, value } = rows[0];
          if (outcome === 1) break;
          if (outcome !== 0) throw new Error(`${ACQUIRE_FUNCTION} answered ${outcome} ${value}`);
          const retry = Number(value);
          await places.sleep(place, Math.min(100, retry < 0 ? 100 : retry + 1));
        }
      } finally {
        places.leave(place);
      }
      return async () => void (await pool.query(RELEASE, [key, token]));
    },
    async close() {
      await Promise.allSettled([pool.end(), listener.end()]);
    },
  };
}
