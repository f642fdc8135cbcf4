import {
  InvalidOptionError,
  LockClosedError,
  LockEngine,
  lockEngineOptionNames,
  rejectUnknownOptions,
  type HandOverOptions,
  type KnownOptions,
  type LockEngineOptions,
} from '@dlock/core';
import { resolveConnectionOptions } from './connection-options.js';
import { PostgresDriver, type PostgresDriverSettings, type PostgresLockData } from './postgres-driver.js';
import { lockNames, validateIdentifier, validateTable } from './names.js';
import { migrationSqlFor, namesForMigration, type MigrationTarget } from './sql.js';
import type { PgClientConfig, PgClientLike, PgPoolLike, PgQueryable } from './types.js';

/** Options of {@link PostgresLock}. */
export interface PostgresLockOptions extends LockEngineOptions, HandOverOptions {
  /**
   * The lock table (created by {@link PostgresLock.migrate}); its fence sequence is
   * `<table>_fence`. Letters, digits and `_`, at most 57 characters; used as given (quoted).
   * Instances contend for the same locks only when they share a table (and a database).
   * @default 'dlock_locks'
   */
  table?: string;
  /**
   * Schema of the table and its sequence (it must exist). Letters, digits and `_`.
   * @default the connection's `search_path` (usually `public`)
   * @example 'app'
   */
  schema?: string;
  /**
   * The LISTEN/NOTIFY channel releases are announced on (payload: the key; when fair, then the
   * first waiter's token). Instances that share a table must share it. Letters, digits and `_`,
   * at most 63 characters.
   * @default the table's name
   */
  channel?: string;
  /**
   * Where the one LISTEN connection of this instance goes: a connection string or `pg`
   * `ClientConfig` (a direct or session-pooled connection: LISTEN is session state, which a
   * transaction-pooling proxy such as PgBouncer in `transaction` mode does not keep), or
   * `false` for none (waiters then poll, at most every `maxRetryDelay`).
   * @default a new connection with the pool's settings or the connection string; with a
   *   `pg.Client`, that client
   * @example 'postgres://app@db-primary:5432/app'
   */
  listen?: string | PgClientConfig | false;
  /**
   * Longest wait for one statement's answer, in ms (pg's `query_timeout`; for a pool the lock
   * creates, also its `connectionTimeoutMillis`). A server that is down or paused makes the call
   * fail with `LockBackendError` after this long. Give a pool of your own a
   * `connectionTimeoutMillis` too, or a paused server may keep a call waiting for a connection.
   * @default 2_000
   */
  operationTimeout?: number;
  /**
   * Waiters of every instance take the lock in the order they came: a wait list per key in
   * `<table>_waits` (created by {@link PostgresLock.migrate}); a release notifies the key with
   * the token of the waiter first in line, so that only that waiter tries, in whichever process
   * it is; a waiter whose process died loses its place a few seconds after it stopped coming back.
   * A releasing holder passes the lock straight to a waiter of its own (`maxLocalHandOvers`)
   * only when that waiter is first in line. `false`: waiters race for a released lock (one
   * statement less work per wait, but one process can starve the others).
   * @default true
   */
  fair?: boolean;
}

/**
 * Defaults of {@link PostgresLockOptions} (the inherited `defaultTtl` is 30 000 ms and
 * `maxRetryDelay` 1 000 ms, see `LockEngineOptions`).
 */
export const defaultPostgresLockOptions = Object.freeze({ table: 'dlock_locks', operationTimeout: 2_000, fair: true });

const known: KnownOptions = Object.freeze({
  names: Object.freeze(['table', 'schema', 'channel', 'listen', 'operationTimeout', 'fair']),
  what: 'new PostgresLock()',
});

/**
 * A distributed lock in a PostgreSQL table, through `pg`: leases on the server's clock, one
 * statement per acquire with a fencing token from a sequence (strictly increasing per key, also
 * after rows are deleted), waiters of every process served in arrival order (see `fair`) and
 * woken by LISTEN/NOTIFY, every renewal of a watchdog tick in one statement. No session state on the pool's connections, so it works through PgBouncer in
 * transaction mode; only the LISTEN connection needs a session (see `listen`).
 *
 * Pass a `pg.Pool` or a connected `pg.Client` you own (they stay open on `close()`), or a
 * connection string (the lock creates a pool and ends it on `close()`). Create the table once
 * with {@link migrate} (or the SQL of {@link migrationSql}).
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import { PostgresLock } from '@dlock/postgres';
 *
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, connectionTimeoutMillis: 2_000 });
 * await using lock = new PostgresLock(pool);
 * await lock.migrate(); // once; idempotent
 * await using handle = await lock.lock('invoice:42', { ttl: 10_000, waitTimeout: 5_000 });
 * await pool.query('UPDATE invoices SET status = $1, fence = $2 WHERE id = 42 AND fence < $2', ['paid', handle.fencingToken]);
 * ```
 */
export class PostgresLock extends LockEngine<PostgresLockData> {
  /** See {@link PostgresLockOptions.table}. */
  readonly table: string;
  /** See {@link PostgresLockOptions.schema}. */
  readonly schema: string | undefined;
  /** See {@link PostgresLockOptions.channel}. */
  readonly channel: string;
  /** See {@link PostgresLockOptions.operationTimeout}. */
  readonly operationTimeout: number;
  /** See {@link PostgresLockOptions.fair}. */
  readonly fair: boolean;
  readonly #driver: PostgresDriver;
  #closedFlag = false;

  /**
   * @param client a `pg.Pool` or a connected `pg.Client` (neither is closed by `close()`), or a
   *   connection string to create a pool (ended by `close()`).
   * @param options table, schema, channel, LISTEN connection, operation timeout, and the
   *   engine's options.
   */
  constructor(client: PgPoolLike | PgClientLike | string, options: PostgresLockOptions = {}) {
    rejectUnknownOptions(options, [...lockEngineOptionNames, 'maxLocalHandOvers', ...known.names], known.what);
    const { source, table, schema, channel, operationTimeout, listen } = resolveConnectionOptions(client, options, {
      defaults: defaultPostgresLockOptions,
      validateTable,
      defaultChannel: (name) => name,
    });
    const fair = options.fair ?? defaultPostgresLockOptions.fair;
    if (typeof fair !== 'boolean') throw new InvalidOptionError('fair', 'a boolean', fair);
    const settings: PostgresDriverSettings = { names: lockNames(table, schema, channel), operationTimeout, listen, fair };
    // The engine validates its own options, then attaches the driver, which only then connects.
    const driver = new PostgresDriver(source, settings);
    super(driver, options, known);
    this.#driver = driver;
    this.table = table;
    this.schema = schema;
    this.channel = channel;
    this.operationTimeout = operationTimeout;
    this.fair = fair;
  }

  /** The pool or client statements go through (yours, or the pool created from your connection string). */
  get client(): PgQueryable {
    return this.#driver.queryable;
  }

  /**
   * Creates the lock table, its fence sequence and its wait list if they do not exist
   * (idempotent, safe to run from several processes at once). Needs the privilege to create in the schema; a team that
   * applies migrations with its own tool runs {@link migrationSql} there instead.
   */
  async migrate(): Promise<void> {
    if (this.#closedFlag) throw new LockClosedError('postgres lock', 'migrate');
    await this.#driver.migrate();
  }

  override async close(): Promise<void> {
    this.#closedFlag = true;
    await super.close();
  }
}

/**
 * The SQL that creates the lock table, its fence sequence and its wait list, idempotent (`IF NOT
 * EXISTS`, under a transaction-level advisory lock so that concurrent runs do not collide): what
 * {@link PostgresLock.migrate} runs, for teams that apply migrations with their own tool. The
 * schema must exist. Names are validated as `PostgresLock` validates them.
 *
 * @example
 * ```ts
 * import { migrationSql } from '@dlock/postgres';
 * writeFileSync('migrations/0042_dlock.sql', migrationSql({ schema: 'app' }));
 * ```
 */
export function migrationSql(target: MigrationTarget = {}): string {
  const table = validateTable(target.table ?? defaultPostgresLockOptions.table);
  const schema = target.schema === undefined ? undefined : validateIdentifier('schema', target.schema);
  return migrationSqlFor(namesForMigration(table, schema));
}
