import { defaultPostgresLockOptions } from '../postgres-lock.js';
import { validateIdentifier } from '../names.js';
import type { MigrationTarget } from '../sql.js';
import { validateClaimTable } from './claim-options.js';
import { claimMigrationSqlFor, claimNames } from './claim-sql.js';

/**
 * The SQL that creates what `PostgresReadWriteLock` and `PostgresSemaphore` need, idempotent
 * (`IF NOT EXISTS`, `CREATE OR REPLACE FUNCTION`, under the same transaction-level advisory lock
 * as `migrationSql()`): the claims table, the key table, the admission function and the fence
 * sequence (shared with a `PostgresLock` of the same `table`). What their `migrate()` runs, for
 * teams that apply migrations with their own tool. The schema must exist.
 *
 * @example
 * ```ts
 * import { claimsMigrationSql } from '@dlock/postgres';
 * writeFileSync('migrations/0043_dlock_claims.sql', claimsMigrationSql({ schema: 'app' }));
 * ```
 */
export function claimsMigrationSql(target: MigrationTarget = {}): string {
  const table = validateClaimTable(target.table ?? defaultPostgresLockOptions.table);
  const schema = target.schema === undefined ? undefined : validateIdentifier('schema', target.schema);
  return claimMigrationSqlFor(claimNames(table, schema, table), schema === undefined ? table : `${schema}.${table}`);
}
