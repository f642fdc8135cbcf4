import { LockClosedError, ReadWriteLockEngine } from '@dlock/core';
import { PostgresClaimDriver, type PostgresClaimData } from '../claims/claim-driver.js';
import { claimKnownOptions, resolveClaimSettings, type PostgresClaimOptions } from '../claims/claim-options.js';
import type { PgClientLike, PgPoolLike, PgQueryable } from '../types.js';

/** Options of {@link PostgresReadWriteLock}: table, schema, channel, LISTEN connection, operation timeout and the engine's. */
export type PostgresReadWriteLockOptions = PostgresClaimOptions;

const known = claimKnownOptions('new PostgresReadWriteLock()');

/**
 * A read-write lock in PostgreSQL tables, through `pg`: many readers or one writer per key,
 * writer-preferring FIFO across every process (the wait list is a table), a fencing token per
 * acquisition from the sequence `PostgresLock` uses (strictly increasing per key across readers
 * and writers), leases on the server's clock, waiters woken by LISTEN/NOTIFY, every renewal of a
 * watchdog tick in one statement. Each operation is one statement (admission is one function
 * call), so the pool may go through PgBouncer in transaction mode; only the LISTEN connection
 * needs a session (see `listen`).
 *
 * Pass a `pg.Pool` or a connected `pg.Client` you own (they stay open on `close()`), or a
 * connection string (the lock creates a pool and ends it on `close()`). Create the tables once
 * with {@link migrate} (or the SQL of `claimsMigrationSql()`).
 *
 * @example
 * ```ts
 * await using rw = new PostgresReadWriteLock(pool);
 * await rw.migrate(); // once; idempotent
 * {
 *   await using read = await rw.readLock('catalog', { ttl: 5_000 });
 *   render(await catalog.load());
 * }
 * await using write = await rw.writeLock('catalog', { ttl: 5_000, waitTimeout: 10_000 });
 * await catalog.save(next, { fence: write.fencingToken });
 * ```
 */
export class PostgresReadWriteLock extends ReadWriteLockEngine<PostgresClaimData> {
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
  constructor(client: PgPoolLike | PgClientLike | string, options: PostgresReadWriteLockOptions = {}) {
    const settings = resolveClaimSettings(client, options, known);
    const driver = new PostgresClaimDriver(settings, ['exclusive', 'shared']);
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
    if (this.#closedFlag) throw new LockClosedError('postgres read-write lock', 'migrate');
    await this.#driver.migrate();
  }

  override async close(): Promise<void> {
    this.#closedFlag = true;
    await super.close();
  }
}
