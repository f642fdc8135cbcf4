import type {
  AcquireRequest,
  AcquireResult,
  DriverFeatures,
  DriverHost,
  HeldLock,
  LockCapabilities,
  LockDriver,
  LockInfo,
} from '@dlock/core';
import { CleanupSchedule } from './cleanup-schedule.js';
import type { ListenSource, PostgresSource } from './connection.js';
import { DriverConnections } from './driver-connections.js';
import { isNotMigrated, isServerError, isTransientPostgresError, PostgresNotMigratedError } from './errors.js';
import { storedKey, type LockNames } from './names.js';
import { PerKeyOrder } from './per-key-order.js';
import { lockStatements, migrationSqlFor, type LockStatements } from './sql.js';
import { StatementRunner } from './statement-runner.js';
import type { PgQueryable, PgQueryResult } from './types.js';

/** What the driver keeps per held lock: the key as the table stores it. */
export interface PostgresLockData {
  readonly stored: string;
}

/** The validated settings a {@link PostgresDriver} runs with (see `PostgresLockOptions`). */
export interface PostgresDriverSettings {
  readonly names: LockNames;
  readonly operationTimeout: number;
  /** Where LISTEN runs; `undefined`: the default for the source; `false`: no release feed. */
  readonly listen: ListenSource | false | undefined;
}

/**
 * PostgreSQL as a lock driver: a lease table on the server's clock, one statement per operation
 * (acquire, owner-checked release with NOTIFY, renew, all renewals of a watchdog tick, hand-over,
 * inspect), fencing tokens from a sequence, and release notifications through one LISTEN
 * connection. Statements hold no session state, so the pool may go through a transaction-pooling
 * proxy. The connection is resolved when an engine attaches the driver, after every option was
 * validated: a constructor that throws never opens a connection.
 */
export class PostgresDriver implements LockDriver<PostgresLockData> {
  readonly backend = 'postgres';
  readonly capabilities: LockCapabilities = Object.freeze({ ttlGranularityMs: 1, minTtlMs: 1, fencing: 'strict' });
  readonly features: DriverFeatures<PostgresLockData>;
  readonly #settings: PostgresDriverSettings;
  readonly #sql: LockStatements;
  readonly #connections: DriverConnections<PostgresLockData>;
  readonly #statements: StatementRunner;
  readonly #acquiring = new PerKeyOrder();
  /**
   * Rows of ended leases are reused by the next acquire of their key; rows of keys nobody takes
   * again are deleted by this schedule, a minute after their lease ended.
   */
  readonly #cleanup: CleanupSchedule;

  constructor(source: PostgresSource, settings: PostgresDriverSettings) {
    this.#settings = settings;
    this.#sql = lockStatements(settings.names);
    this.#connections = new DriverConnections('PostgresDriver', source, { ...settings, channel: settings.names.channel });
    // A missing table, sequence or schema becomes PostgresNotMigratedError.
    const notMigrated = (error: unknown) => (isNotMigrated(error) ? new PostgresNotMigratedError(settings.names.table, { cause: error }) : undefined);
    this.#statements = new StatementRunner(() => this.queryable, settings.operationTimeout, notMigrated);
    this.#cleanup = new CleanupSchedule(() => this.#run(this.#sql.cleanup, []).then((result) => result.rowCount ?? 0));
    const transfer = (lock: HeldLock<PostgresLockData>, token: string, ttl: number) => this.transfer(lock, token, ttl);
    const releaseFeed = this.#connections.releaseFeed();
    this.features = Object.freeze(
      releaseFeed === undefined ? { claims: ['exclusive'] as const, transfer } : { claims: ['exclusive'] as const, transfer, releaseFeed },
    );
  }

  /** Adopts the caller's pool or client, or creates the pool for a connection string. */
  attach(host: DriverHost<PostgresLockData>): void {
    this.#connections.attach(host);
  }

  /** The statements' pool or client (yours, or the pool created from your connection string). */
  get queryable(): PgQueryable {
    return this.#connections.queryable;
  }

  /**
   * One attempt. Attempts on one key from this instance run one after another: a pool answers
   * on several connections in any order, and the engine queues a waiter when its first attempt
   * is answered, so this keeps the instance's waiters in arrival order.
   */
  acquire(request: AcquireRequest): Promise<AcquireResult<PostgresLockData>> {
    return this.#acquiring.run(request.key, () => this.#acquire(request));
  }

  async #acquire({ key, token, ttl }: AcquireRequest): Promise<AcquireResult<PostgresLockData>> {
    const stored = storedKey(key);
    let result: PgQueryResult;
    try {
      result = await this.#run(this.#sql.acquire, [stored, token, ttl]);
    } catch (error) {
      // A statement that timed out or lost its connection may still run and take the key for a
      // token nobody holds: give it back, best effort.
      if (!isServerError(error) && !(error instanceof PostgresNotMigratedError)) this.#releaseQuietly(stored, token);
      throw error;
    }
    this.#cleanup.maybeRun();
    const row = result.rows[0] as { fence: string | null; ttl: number | null } | undefined;
    if (row?.fence != null) return { acquired: true, fencingToken: BigInt(row.fence), data: { stored } };
    const left = row?.ttl == null ? -1 : Math.max(0, Math.ceil(row.ttl));
    return { acquired: false, retryAfter: this.#connections.capWhileDeaf(left) };
  }

  /** Owner-checked: ends the lease and notifies the channel in one statement. */
  async release(lock: HeldLock<PostgresLockData>): Promise<boolean> {
    const result = await this.#run(this.#sql.release, [lock.data.stored, lock.token, this.#settings.names.channel]);
    const released = result.rows.length === 1;
    if (released) this.#connections.wakeLocally(lock.key);
    return released;
  }

  async renew(lock: HeldLock<PostgresLockData>, ttl: number): Promise<boolean> {
    const result = await this.#run(this.#sql.renew, [lock.data.stored, lock.token, ttl]);
    return result.rowCount === 1;
  }

  /** Every renewal of a watchdog tick in one statement. */
  async renewMany(locks: readonly HeldLock<PostgresLockData>[]): Promise<Array<boolean | Error>> {
    if (locks.length === 0) return [];
    const result = await this.#run(this.#sql.renewMany, [
      locks.map((lock) => lock.data.stored),
      locks.map((lock) => lock.token),
      locks.map((lock) => lock.ttl),
    ]);
    const renewed = new Set(result.rows.map((row) => row['token'] as string));
    return locks.map((lock) => renewed.has(lock.token));
  }

  /** The `transfer` feature: the holder's row goes to `token`, with a new fence, in one statement. */
  async transfer(lock: HeldLock<PostgresLockData>, token: string, ttl: number): Promise<AcquireResult<PostgresLockData>> {
    const result = await this.#run(this.#sql.transfer, [lock.data.stored, lock.token, token, ttl]);
    const row = result.rows[0] as { fence: string } | undefined;
    return row === undefined ? { acquired: false, retryAfter: -1 } : { acquired: true, fencingToken: BigInt(row.fence), data: lock.data };
  }

  abandon(lock: HeldLock<PostgresLockData>): void {
    this.#releaseQuietly(lock.data.stored, lock.token);
  }

  async inspect(key: string): Promise<LockInfo | null> {
    const result = await this.#run(this.#sql.inspect, [storedKey(key)]);
    const row = result.rows[0] as { token: string; fence: string; ttl: number } | undefined;
    if (row === undefined) return null;
    return { key, holder: row.token.slice(0, 8), ttlRemaining: Math.max(0, Math.ceil(row.ttl)), fencingToken: BigInt(row.fence) };
  }

  /** Connection failures and timeouts may pass; SQL, permission and authentication errors will not. */
  isTransient(error: unknown): boolean {
    return isTransientPostgresError(error);
  }

  /** Creates the table and its sequence if missing (one implicit transaction). */
  async migrate(): Promise<void> {
    await this.#statements.migrate(migrationSqlFor(this.#settings.names));
  }

  /** Stops listening; ends a pool the driver created (yours stays open). */
  async close(): Promise<void> {
    this.#cleanup.stop();
    await this.#connections.close();
  }

  #run(text: string, values: unknown[]): Promise<PgQueryResult> {
    return this.#statements.run(text, values);
  }

  #releaseQuietly(stored: string, token: string): void {
    this.#run(this.#sql.release, [stored, token, this.#settings.names.channel]).catch(() => undefined);
  }
}
