import { runQuery } from './connection.js';
import type { PgQueryable, PgQueryResult } from './types.js';

/** A migration creates tables and functions: it may take longer than one lock statement (ms). */
const MIGRATION_TIMEOUT_FLOOR_MS = 10_000;

/**
 * Runs a driver's statements, each bounded by the operation timeout (pg's `query_timeout`).
 * `notMigrated` turns an error that says the tables were never created into the driver's
 * `PostgresNotMigratedError` (and returns `undefined` for any other error, which passes as is).
 */
export class StatementRunner {
  readonly #queryable: () => PgQueryable;
  readonly #operationTimeout: number;
  readonly #notMigrated: (error: unknown) => Error | undefined;

  constructor(queryable: () => PgQueryable, operationTimeout: number, notMigrated: (error: unknown) => Error | undefined) {
    this.#queryable = queryable;
    this.#operationTimeout = operationTimeout;
    this.#notMigrated = notMigrated;
  }

  /** Runs one statement. */
  async run(text: string, values: unknown[]): Promise<PgQueryResult> {
    try {
      return await runQuery(this.#queryable(), { text, values }, this.#operationTimeout);
    } catch (error) {
      throw this.#notMigrated(error) ?? error;
    }
  }

  /** Runs the migration's SQL (one implicit transaction), given at least ten seconds. */
  async migrate(text: string): Promise<void> {
    await runQuery(this.#queryable(), { text }, Math.max(this.#operationTimeout, MIGRATION_TIMEOUT_FLOOR_MS));
  }
}
