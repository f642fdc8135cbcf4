import {
  waitListPlaceMs,
  type AcquireRequest,
  AcquireResult,
  DriverFeatures,
  DriverHost,
  HeldLock,
  LockCapabilities,
  LockDriver,
  LockInfo,
  TransferResult,
  WaitList,
} from '@dlock/core';
import { CleanupSchedule } from './cleanup-schedule.js';
import type { ListenSource, PostgresSource } from './connection.js';
import { DriverConnections } from './driver-connections.js';
import { isNotMigrated, isServerError, isTransientPostgresError, PostgresNotMigratedError } from './errors.js';
import { fairLockStatements, type FairLockStatements } from './fair-sql.js';
import { NEXT_WAITER_MARK, storedKey, type LockNames } from './names.js';
import { PerKeyOrder } from './per-key-order.js';
import { CLEANUP_BATCH, lockStatements, migrationSqlFor, ROW_RETENTION_SECONDS, type LockStatements } from './sql.js';
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
  /** Waiters of every instance take the key in arrival order (a wait list on the server). */
  readonly fair: boolean;
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
  /** The wait list's statements (fair locks only). */
  readonly #fair: FairLockStatements | undefined;
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
    this.#fair = settings.fair ? fairLockStatements(settings.names) : undefined;
    this.#connections = new DriverConnections('PostgresDriver', source, { ...settings, channel: settings.names.channel });
    // A missing table, sequence or schema becomes PostgresNotMigratedError.
    const notMigrated = (error: unknown) => (isNotMigrated(error) ? new PostgresNotMigratedError(settings.names.table, { cause: error }) : undefined);
    this.#statements = new StatementRunner(() => this.queryable, settings.operationTimeout, notMigrated);
    this.#cleanup = new CleanupSchedule(() => this.#cleanUp());
    const transfer = (lock: HeldLock<PostgresLockData>, token: string, ttl: number, turn?: boolean) => this.transfer(lock, token, ttl, turn);
    const releaseFeed = this.#connections.releaseFeed();
    // Fair: the server's wait list decides which instance is next (one place per instance and
    // key: turns); a releasing holder passes the lock to a waiter of its own in its instance's
    // turn, or when that waiter is first in line.
    const waitList: WaitList | undefined = settings.fair ? Object.freeze({ leave: (key: string, token: string) => this.leave(key, token) }) : undefined;
    this.features = Object.freeze({
      claims: ['exclusive'] as const,
      transfer,
      ...(releaseFeed === undefined ? {} : { releaseFeed }),
      ...(waitList === undefined ? {} : { waitList, turns: true }),
    });
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

  async #acquire({ key, token, ttl, waiting }: AcquireRequest): Promise<AcquireResult<PostgresLockData>> {
    const stored = storedKey(key);
    let result: PgQueryResult;
    try {
      const fair = this.#fair;
      result =
        fair === undefined
          ? await this.#run(this.#sql.acquire, [stored, token, ttl])
          : await this.#run(fair.acquire, [stored, token, ttl, waiting === true, this.#placeMs()]);
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

  /**
   * Owner-checked: ends the lease and notifies the channel in one statement (fair: naming the
   * waiter first in line).
   */
  async release(lock: HeldLock<PostgresLockData>): Promise<boolean> {
    const { channel } = this.#settings.names;
    const fair = this.#fair;
    const result =
      fair === undefined
        ? await this.#run(this.#sql.release, [lock.data.stored, lock.token, channel])
        : await this.#run(fair.release, [lock.data.stored, lock.token, channel, this.#placeMs(), NEXT_WAITER_MARK]);
    const row = result.rows[0] as { next?: string | null } | undefined;
    if (row !== undefined) this.#connections.wakeLocally(lock.key, row.next ?? undefined);
    return row !== undefined;
  }

  /**
   * The wait list feature (fair locks): a waiting caller gave up; its place goes. When it was
   * first in line for a free key, the next waiter is told.
   */
  async leave(key: string, token: string): Promise<void> {
    const fair = this.#fair;
    if (fair === undefined) return;
    const { channel } = this.#settings.names;
    const result = await this.#run(fair.leave, [storedKey(key), token, channel, this.#placeMs(), NEXT_WAITER_MARK]).catch(() => undefined);
    const next = (result?.rows[0] as { next: string } | undefined)?.next;
    if (next !== undefined) this.#connections.wakeLocally(key, next);
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

  /**
   * The `transfer` feature: the holder's row goes to `token`, with a new fence, in one statement.
   * Fair: only when `token` is in the instance's turn or first in line; otherwise the same
   * statement releases the key.
   */
  async transfer(lock: HeldLock<PostgresLockData>, token: string, ttl: number, turn = false): Promise<TransferResult<PostgresLockData>> {
    const fair = this.#fair;
    if (fair !== undefined && !turn) {
      const { channel } = this.#settings.names;
      const result = await this.#run(fair.transfer, [lock.data.stored, lock.token, token, ttl, channel, this.#placeMs(), NEXT_WAITER_MARK]);
      const row = result.rows[0] as { outcome: number; value: string } | undefined;
      if (row === undefined) return { acquired: false, retryAfter: -1 };
      if (row.outcome === 2) return { acquired: true, fencingToken: BigInt(row.value), data: lock.data };
      this.#connections.wakeLocally(lock.key, row.value === '' ? undefined : row.value);
      return { acquired: false, released: true };
    }
    // Unfair, or within the instance's turn: the key passes to `token` wherever it stands.
    const result = await this.#run(fair === undefined ? this.#sql.transfer : fair.turnTransfer, [lock.data.stored, lock.token, token, ttl]);
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

  /** How long a waiter's place outlives the retry delay it was answered (see `waitListPlaceMs`). */
  #placeMs(): number {
    return waitListPlaceMs(this.#connections.host.maxRetryDelay);
  }

  /** Old rows of ended leases, and (fair) places that ended: the number deleted. */
  async #cleanUp(): Promise<number> {
    const rows = (await this.#run(this.#sql.cleanup, [])).rowCount ?? 0;
    if (this.#fair === undefined) return rows;
    const places = (await this.#run(this.#fair.cleanup, [CLEANUP_BATCH, ROW_RETENTION_SECONDS])).rowCount ?? 0;
    return Math.max(rows, places);
  }

  #run(text: string, values: unknown[]): Promise<PgQueryResult> {
    return this.#statements.run(text, values);
  }

  #releaseQuietly(stored: string, token: string): void {
    this.#run(this.#sql.release, [stored, token, this.#settings.names.channel]).catch(() => undefined);
  }
}
