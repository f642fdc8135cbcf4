/**
 * The lock table (or its sequence, or its schema) does not exist: run `await lock.migrate()`
 * once, or apply the SQL of `migrationSql()` with your migration tool. The engine reports it as
 * the `cause` of a `LockBackendError`, and a waiting `lock()` fails at once instead of retrying.
 */
export class PostgresNotMigratedError extends Error {
  override readonly name = 'PostgresNotMigratedError';
  /** The table as the statements name it (`"dlock_locks"`, `"app"."dlock_locks"`). */
  readonly table: string;
  /**
   * @param options also `sql`: the function that gives the migration's SQL (`migrationSql()`;
   *   the read-write lock's and semaphore's is `claimsMigrationSql()`).
   */
  constructor(table: string, options?: ErrorOptions & { readonly sql?: string }) {
    super(
      `the lock table ${table} or its fence sequence does not exist: run \`await lock.migrate()\` once ` +
        `(or apply the SQL of ${options?.sql ?? 'migrationSql()'} from @dlock/postgres with your migration tool)`,
      options,
    );
    this.table = table;
  }
}

/** A PostgreSQL error reply: its SQLSTATE `code` (`42P01`) and `severity`. */
interface ServerError {
  readonly code: string;
  readonly severity: string;
}

/** Whether `error` is an error reply of the server (pg's `DatabaseError`, from any copy of pg). */
export function isServerError(error: unknown): error is Error & ServerError {
  if (!(error instanceof Error)) return false;
  const { code, severity } = error as Partial<ServerError>;
  return typeof severity === 'string' && typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
}

/** SQLSTATE codes that mean the lock table was never created. */
const notMigratedCodes = new Set([
  '42P01', // undefined_table (the table, or the sequence nextval() names)
  '3F000', // invalid_schema_name
]);

/** Whether a server error says the table, sequence or schema is missing. */
export function isNotMigrated(error: unknown): boolean {
  return isServerError(error) && notMigratedCodes.has(error.code);
}

/**
 * Whether a server error says a function is missing (the admission function of the read-write
 * lock and semaphore: not migrated). The same SQLSTATE also means a missing operator, which
 * the message tells apart.
 */
export function isMissingFunction(error: unknown): boolean {
  return isServerError(error) && error.code === '42883' && /^function /.test(error.message);
}

/**
 * SQLSTATE classes that may pass: connection exceptions (08), serialization failures and
 * deadlocks (40), insufficient resources such as too many connections (53), operator
 * intervention such as a shutdown or a server still starting (57), system errors (58).
 */
const passingClasses = new Set(['08', '40', '53', '57', '58']);

/**
 * Whether a failed statement may succeed if retried: connection failures (refused, reset,
 * terminated), timeouts and the passing SQLSTATE classes may pass; any other error reply (a
 * missing table, a missing permission, a wrong password, bad SQL) will not, so a waiting
 * `lock()` fails at once instead of retrying until its deadline.
 */
export function isTransientPostgresError(error: unknown): boolean {
  if (error instanceof PostgresNotMigratedError) return false;
  if (!isServerError(error)) return true;
  return passingClasses.has(error.code.slice(0, 2));
}
