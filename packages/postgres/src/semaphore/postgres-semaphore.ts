import { LockClosedError, SemaphoreEngine } from '@dlock/core';
import { PostgresClaimDriver, type PostgresClaimData } from '../claims/claim-driver.js';
import { claimKnownOptions, resolveClaimSettings, type PostgresClaimOptions } from '../claims/claim-options.js';
import type { PgClientLike, PgPoolLike, PgQueryable } from '../types.js';

/** Options of {@link PostgresSemaphore}: table, schema, channel, LISTEN connection, operation timeout and the engine's. */
export type PostgresSemaphoreOptions = PostgresClaimOptions;

const known = claimKnownOptions('new PostgresSemaphore()');

/**
 * A counting semaphore in PostgreSQL tables, through `pg`: at most `limit` permits of a key held
 * at once across every process, FIFO on the server (a large request is not overtaken by later
 * small ones), a fencing token per acquisition from the sequence `PostgresLock` uses, leases on
 * the server's clock, waiters woken by LISTEN/NOTIFY, every renewal of a watchdog tick in one
 * statement. Every caller of a key uses one limit while anyone holds or waits
 * (`SemaphoreLimitMismatchError` otherwise). Each operation is one statement, so the pool may go
 * through PgBouncer in transaction mode; only the LISTEN connection needs a session.
 *
 * Pass a `pg.Pool` or a connected `pg.Client` you own (they stay open on `close()`), or a
 * connection string (the semaphore creates a pool and ends it on `close()`). Create the tables
 * once with {@link migrate} (or the SQL of `claimsMigrationSql()`).
 *
 * @example
 * ```ts
 * await using sem = new PostgresSemaphore(pool);
 * await sem.migrate(); // once; idempotent
 * await using permit = await sem.acquire('exports', { limit: 4, ttl: 30_000 });
 * await runExport({ signal: permit.signal });
 * ```
 */
export class PostgresSemaphore extends SemaphoreEngine<PostgresClaimData> {
  /** See {@link PostgresClaimOptions.table}. */
  readonly table: string;
  /** See {@link PostgresClaimOptions.schema}. */
  readonly schema: string | undefined;
  /** See {@link PostgresClaimOptions.channel}. */
  readonly channel: string;
  /** See {@link PostgresClaimOptions.operationTimeout}. */
  readonly operationTimeout: number;
  readonly #driver: PostgresClaimDriver;
  #closedFlag = false;

  /**
   * @param client a `pg.Pool` or a connected `pg.Client` (neither is closed by `close()`), or a
   *   connection string to create a pool (ended by `close()`).
   */
  constructor(client: PgPoolLike | PgClientLike | string, options: PostgresSemaphoreOptions = {}) {
    const settings = resolveClaimSettings(client, options, known);
    const driver = new PostgresClaimDriver(settings, ['permits']);
    super(driver, options, known);
    this.#driver = driver;
    this.table = settings.table;
    this.schema = settings.schema;
    this.channel = settings.names.channel;
    this.operationTimeout = settings.operationTimeout;
  }

  /** The pool or client statements go through (yours, or the pool created from your connection string). */
  get client(): PgQueryable {
    return this.#driver.queryable;
  }

  /**
   * Creates the claims tables, the admission function and the fence sequence if they do not
   * exist (idempotent, safe from several processes at once; `claimsMigrationSql()` is the SQL).
   */
  async migrate(): Promise<void> {
    if (this.#closedFlag) throw new LockClosedError('postgres semaphore', 'migrate');
    await this.#driver.migrate();
  }

  override async close(): Promise<void> {
    this.#closedFlag = true;
    await super.close();
  }
}
