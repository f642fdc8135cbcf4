import {
  SemaphoreLimitMismatchError,
  waitListPlaceMs,
  type AcquireRequest,
  type AcquireResult,
  type Claim,
  type ClaimKind,
  type DriverFeatures,
  type DriverHost,
  type HeldLock,
  type KeyHolders,
  type LockCapabilities,
  type LockDriver,
  type LockInfo,
} from '@dlock/core';
import { CleanupSchedule } from '../cleanup-schedule.js';
import { DriverConnections } from '../driver-connections.js';
import { isMissingFunction, isNotMigrated, isServerError, isTransientPostgresError, PostgresNotMigratedError } from '../errors.js';
import { storedKey } from '../names.js';
import { PerKeyOrder } from '../per-key-order.js';
import { StatementRunner } from '../statement-runner.js';
import type { PgQueryable, PgQueryResult } from '../types.js';
import type { PostgresClaimSettings } from './claim-options.js';
import { claimMigrationSqlFor, claimStatements, type ClaimStatements } from './claim-sql.js';

/** What the driver keeps per held claim: the key as the table stores it. */
export interface PostgresClaimData {
  readonly stored: string;
}

interface InspectRow {
  waiting: number;
  token: string | null;
  kind: 'exclusive' | 'shared' | 'permits' | null;
  permits: number;
  permit_limit: number;
  fence: string;
  ttl: number;
}

const claimOf = (row: InspectRow): Claim =>
  row.kind === 'permits' ? { kind: 'permits', permits: row.permits, limit: row.permit_limit } : { kind: row.kind ?? 'exclusive' };

/**
 * The PostgreSQL driver of read-write locks and semaphores: one row per holder and per waiting
 * caller in the claims table (its claim, its fence from the shared sequence, its lease or place
 * end on the server's clock, a waiter's arrival number), admitted by one function call that
 * locks the key's row and applies core's `Admission` rule (writer-preferring, permits not
 * overtaken, a single attempt judged as queued last). Releases, expiries and departures are
 * notified on the channel, which waiters hear through one LISTEN connection. Every statement is
 * one statement with no session state, so the pool may go through a transaction pooler.
 */
export class PostgresClaimDriver implements LockDriver<PostgresClaimData> {
  readonly backend = 'postgres';
  readonly capabilities: LockCapabilities = Object.freeze({ ttlGranularityMs: 1, minTtlMs: 1, fencing: 'strict' });
  readonly features: DriverFeatures<PostgresClaimData>;
  readonly #settings: PostgresClaimSettings;
  readonly #sql: ClaimStatements;
  readonly #connections: DriverConnections<PostgresClaimData>;
  readonly #statements: StatementRunner;
  /** An instance's attempts on a key reach the server in order. */
  readonly #acquiring = new PerKeyOrder();
  /** Rows of ended leases and places, and rows of idle keys, deleted by an instance at most every 30 s. */
  readonly #cleanup: CleanupSchedule;

  /** @param claims `['exclusive', 'shared']` (a read-write lock) or `['permits']` (a semaphore). */
  constructor(settings: PostgresClaimSettings, claims: readonly ClaimKind[]) {
    this.#settings = settings;
    this.#sql = claimStatements(settings.names);
    this.#connections = new DriverConnections('PostgresClaimDriver', settings.source, { ...settings, channel: settings.names.channel });
    // A missing table, function, sequence or schema becomes PostgresNotMigratedError.
    const notMigrated = (error: unknown) =>
      isNotMigrated(error) || isMissingFunction(error)
        ? new PostgresNotMigratedError(settings.names.claims, { cause: error, sql: 'claimsMigrationSql()' })
        : undefined;
    this.#statements = new StatementRunner(() => this.queryable, settings.operationTimeout, notMigrated);
    this.#cleanup = new CleanupSchedule(() => this.#run(this.#sql.cleanup, []).then((result) => Number(result.rows[0]?.['n'] ?? 0)));
    const common = {
      claims: Object.freeze([...claims]),
      waitList: Object.freeze({ leave: (key: string, token: string) => this.leave(key, token) }),
      inspectHolders: (key: string) => this.inspectHolders(key),
    };
    const releaseFeed = this.#connections.releaseFeed();
    this.features = Object.freeze(releaseFeed === undefined ? common : { ...common, releaseFeed });
  }

  /** Adopts the caller's pool or client, or creates the pool for a connection string. */
  attach(host: DriverHost<PostgresClaimData>): void {
    this.#connections.attach(host);
  }

  /** The statements' pool or client. */
  get queryable(): PgQueryable {
    return this.#connections.queryable;
  }

  acquire(request: AcquireRequest): Promise<AcquireResult<PostgresClaimData>> {
    return this.#acquiring.run(request.key, () => this.#acquire(request));
  }

  async #acquire({ key, token, ttl, claim, waiting }: AcquireRequest): Promise<AcquireResult<PostgresClaimData>> {
    const stored = storedKey(key);
    // How long a waiter's place outlives an answer's retry delay, in ms.
    const placeMs = waitListPlaceMs(this.#connections.host.maxRetryDelay);
    const [permits, limit] = claim.kind === 'permits' ? [claim.permits, claim.limit] : [0, 0];
    let result: PgQueryResult;
    try {
      result = await this.#run(this.#sql.acquire, [stored, token, ttl, claim.kind, permits, limit, waiting === true, placeMs, this.#settings.names.channel]);
    } catch (error) {
      // A call that timed out or lost its connection may still run and admit a token nobody
      // holds (or queue it): undo that, best effort.
      if (!isServerError(error) && !(error instanceof PostgresNotMigratedError)) this.#forget(stored, token);
      throw error;
    }
    this.#cleanup.maybeRun();
    const row = result.rows[0] as { outcome: number; value: string };
    if (row.outcome === 1) return { acquired: true, fencingToken: BigInt(row.value), data: { stored } };
    if (row.outcome === 2) throw new SemaphoreLimitMismatchError(key, limit, Number(row.value), { backend: this.backend });
    return { acquired: false, retryAfter: this.#connections.capWhileDeaf(Number(row.value)) };
  }

  /** Owner-checked: deletes the holder's row and notifies the channel in one statement. */
  async release(lock: HeldLock<PostgresClaimData>): Promise<boolean> {
    const result = await this.#run(this.#sql.release, [lock.data.stored, lock.token, this.#settings.names.channel]);
    const row = result.rows[0] as { live: boolean } | undefined;
    if (row !== undefined) this.#connections.wakeLocally(lock.key);
    return row?.live === true;
  }

  async renew(lock: HeldLock<PostgresClaimData>, ttl: number): Promise<boolean> {
    const result = await this.#run(this.#sql.renew, [lock.data.stored, lock.token, ttl]);
    return result.rowCount === 1;
  }

  /** Every renewal of a watchdog tick in one statement. */
  async renewMany(locks: readonly HeldLock<PostgresClaimData>[]): Promise<Array<boolean | Error>> {
    if (locks.length === 0) return [];
    const result = await this.#run(this.#sql.renewMany, [locks.map((l) => l.data.stored), locks.map((l) => l.token), locks.map((l) => l.ttl)]);
    const renewed = new Set(result.rows.map((row) => row['token'] as string));
    return locks.map((lock) => renewed.has(lock.token));
  }

  /** The wait list feature: a waiting caller gave up; its place goes, and that is notified. */
  async leave(key: string, token: string): Promise<void> {
    const result = await this.#run(this.#sql.leave, [storedKey(key), token, this.#settings.names.channel]);
    if (result.rows.length > 0) this.#connections.wakeLocally(key);
  }

  /** Every live holder of `key` with its claim (lowest fence first), and how many callers wait. */
  async inspectHolders(key: string): Promise<KeyHolders> {
    const result = await this.#run(this.#sql.inspect, [storedKey(key)]);
    const rows = result.rows as unknown as InspectRow[];
    const holders = rows
      .filter((row) => row.token !== null)
      .map((row) => ({
        holder: row.token!.slice(0, 8),
        claim: claimOf(row),
        ttlRemaining: Math.max(0, Math.ceil(row.ttl)),
        fencingToken: BigInt(row.fence),
      }));
    return { key, holders, waiting: rows[0]?.waiting ?? 0 };
  }

  /** The latest holder of `key` (highest fencing token), as a mutex's `inspect` shows it. */
  async inspect(key: string): Promise<LockInfo | null> {
    const { holders } = await this.inspectHolders(key);
    const last = holders.at(-1);
    return last === undefined ? null : { key, holder: last.holder, ttlRemaining: last.ttlRemaining, fencingToken: last.fencingToken };
  }

  abandon(lock: HeldLock<PostgresClaimData>): void {
    this.#forget(lock.data.stored, lock.token);
  }

  isTransient(error: unknown): boolean {
    return isTransientPostgresError(error);
  }

  /** Creates the claims tables, the admission function and the fence sequence if missing (one implicit transaction). */
  async migrate(): Promise<void> {
    const { table, schema, names } = this.#settings;
    await this.#statements.migrate(claimMigrationSqlFor(names, schema === undefined ? table : `${schema}.${table}`));
  }

  /** Stops listening; ends a pool the driver created (yours stays open). */
  async close(): Promise<void> {
    this.#cleanup.stop();
    await this.#connections.close();
  }

  #run(text: string, values: unknown[]): Promise<PgQueryResult> {
    return this.#statements.run(text, values);
  }

  #forget(stored: string, token: string): void {
    this.#run(this.#sql.forget, [stored, token, this.#settings.names.channel]).catch(() => undefined);
  }
}
