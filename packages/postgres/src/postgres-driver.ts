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
import { resolveConnection, runQuery, type ListenSource, type PostgresSource, type ResolvedConnection } from './connection.js';
import { isNotMigrated, isServerError, isTransientPostgresError, PostgresNotMigratedError } from './errors.js';
import { storedKey, type LockNames } from './names.js';
import { ReleaseListener } from './release-listener.js';
import { CLEANUP_BATCH, lockStatements, migrationSqlFor, type LockStatements } from './sql.js';
import type { PgQueryResult } from './types.js';

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

/** How often an instance deletes old rows, at most (ms); sooner after a full batch. */
const CLEANUP_INTERVAL_MS = 30_000;
const CLEANUP_AGAIN_MS = 1_000;

interface Attached {
  readonly host: DriverHost<PostgresLockData>;
  readonly connection: ResolvedConnection;
  readonly listener: ReleaseListener | undefined;
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
  readonly #source: PostgresSource;
  readonly #settings: PostgresDriverSettings;
  readonly #sql: LockStatements;
  #attached: Attached | undefined;
  /** The last acquire in flight per key (see {@link acquire}). */
  readonly #acquiring = new Map<string, Promise<void>>();
  #nextCleanup = 0;
  #cleaning = false;
  #closed = false;

  constructor(source: PostgresSource, settings: PostgresDriverSettings) {
    this.#source = source;
    this.#settings = settings;
    this.#sql = lockStatements(settings.names);
    const transfer = (lock: HeldLock<PostgresLockData>, token: string, ttl: number) => this.transfer(lock, token, ttl);
    this.features = Object.freeze(
      settings.listen === false
        ? { claims: ['exclusive'] as const, transfer }
        : {
            claims: ['exclusive'] as const,
            transfer,
            releaseFeed: Object.freeze({ watch: (key: string) => this.#listener().watch(key), unwatch: (key: string) => this.#listener().unwatch(key) }),
          },
    );
  }

  /** Adopts the caller's pool or client, or creates the pool for a connection string. */
  attach(host: DriverHost<PostgresLockData>): void {
    if (this.#attached !== undefined) throw new Error('a PostgresDriver serves one engine');
    const { operationTimeout, listen, names } = this.#settings;
    const connection = resolveConnection(this.#source, operationTimeout);
    const listener =
      listen === false
        ? undefined
        : new ReleaseListener(listen ?? connection.listen, names.channel, operationTimeout, {
            released: (key) => host.released(key),
            maxRetryDelay: () => host.maxRetryDelay,
          });
    this.#attached = { host, connection, listener };
  }

  /** The statements' pool or client (yours, or the pool created from your connection string). */
  get queryable(): ResolvedConnection['queryable'] {
    return this.#open().connection.queryable;
  }

  /**
   * One attempt. Attempts on one key from this instance run one after another: a pool answers
   * on several connections in any order, and the engine queues a waiter when its first attempt
   * is answered, so this keeps the instance's waiters in arrival order.
   */
  acquire(request: AcquireRequest): Promise<AcquireResult<PostgresLockData>> {
    const { key } = request;
    const previous = this.#acquiring.get(key);
    const result = previous === undefined ? this.#acquire(request) : previous.then(() => this.#acquire(request));
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.#acquiring.set(key, settled);
    void settled.then(() => {
      if (this.#acquiring.get(key) === settled) this.#acquiring.delete(key);
    });
    return result;
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
    this.#maybeCleanUp();
    const row = result.rows[0] as { fence: string | null; ttl: number | null } | undefined;
    if (row?.fence != null) return { acquired: true, fencingToken: BigInt(row.fence), data: { stored } };
    const left = row?.ttl == null ? -1 : Math.max(0, Math.ceil(row.ttl));
    return { acquired: false, retryAfter: this.#capWhileDeaf(left) };
  }

  /** Owner-checked: ends the lease and notifies the channel in one statement. */
  async release(lock: HeldLock<PostgresLockData>): Promise<boolean> {
    const result = await this.#run(this.#sql.release, [lock.data.stored, lock.token, this.#settings.names.channel]);
    const released = result.rows.length === 1;
    // A listening instance hears its own notification; otherwise wake the local waiter here.
    if (released && this.#open().listener?.live !== true) this.#open().host.released(lock.key);
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
    await runQuery(this.queryable, { text: migrationSqlFor(this.#settings.names) }, Math.max(this.#settings.operationTimeout, 10_000));
  }

  /** Stops listening; ends a pool the driver created (yours stays open). */
  async close(): Promise<void> {
    this.#closed = true;
    const attached = this.#attached;
    if (attached === undefined) return;
    await attached.listener?.close();
    await attached.connection.close().catch(() => undefined);
  }

  #open(): Attached {
    if (this.#attached === undefined) throw new Error('PostgresDriver used before an engine attached it');
    return this.#attached;
  }

  #listener(): ReleaseListener {
    const listener = this.#open().listener;
    if (listener === undefined) throw new Error('this PostgresDriver has no release feed');
    return listener;
  }

  /** Runs one statement; a missing table, sequence or schema becomes {@link PostgresNotMigratedError}. */
  async #run(text: string, values: unknown[]): Promise<PgQueryResult> {
    try {
      return await runQuery(this.queryable, { text, values }, this.#settings.operationTimeout);
    } catch (error) {
      if (isNotMigrated(error)) throw new PostgresNotMigratedError(this.#settings.names.table, { cause: error });
      throw error;
    }
  }

  /** While notifications may be missed (the LISTEN connection is reconnecting), poll at most every maxRetryDelay. */
  #capWhileDeaf(retryAfter: number): number {
    const { listener, host } = this.#open();
    if (listener === undefined || listener.live || retryAfter < 0) return retryAfter;
    return Math.min(retryAfter, host.maxRetryDelay);
  }

  #releaseQuietly(stored: string, token: string): void {
    this.#run(this.#sql.release, [stored, token, this.#settings.names.channel]).catch(() => undefined);
  }

  /**
   * Rows of ended leases are reused by the next acquire of their key; rows of keys nobody takes
   * again are deleted here, a minute after their lease ended, at most one statement per
   * instance every 30 s (sooner while there is a backlog). No separate job is needed.
   */
  #maybeCleanUp(): void {
    const now = performance.now();
    if (this.#cleaning || this.#closed || now < this.#nextCleanup) return;
    this.#cleaning = true;
    this.#nextCleanup = now + CLEANUP_INTERVAL_MS;
    this.#run(this.#sql.cleanup, [])
      .then((result) => {
        if ((result.rowCount ?? 0) >= CLEANUP_BATCH) this.#nextCleanup = performance.now() + CLEANUP_AGAIN_MS;
      })
      .catch(() => undefined)
      .finally(() => {
        this.#cleaning = false;
      });
  }
}
