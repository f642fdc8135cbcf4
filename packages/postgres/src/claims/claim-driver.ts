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
import { resolveConnection, runQuery, type ResolvedConnection } from '../connection.js';
import { isMissingFunction, isNotMigrated, isServerError, isTransientPostgresError, PostgresNotMigratedError } from '../errors.js';
import { storedKey } from '../names.js';
import { ReleaseListener } from '../release-listener.js';
import type { PgQueryResult } from '../types.js';
import type { PostgresClaimSettings } from './claim-options.js';
import { CLEANUP_BATCH } from '../sql.js';
import { claimMigrationSqlFor, claimStatements, type ClaimStatements } from './claim-sql.js';

/** What the driver keeps per held claim: the key as the table stores it. */
export interface PostgresClaimData {
  readonly stored: string;
}

/** How often an instance deletes old rows, at most (ms); sooner after a full batch. */
const CLEANUP_INTERVAL_MS = 30_000;
const CLEANUP_AGAIN_MS = 1_000;

interface Attached {
  readonly host: DriverHost<PostgresClaimData>;
  readonly connection: ResolvedConnection;
  readonly listener: ReleaseListener | undefined;
  /** How long a waiter's place outlives an answer's retry delay, in ms. */
  readonly placeMs: number;
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
  #attached: Attached | undefined;
  /** The last acquire in flight per key: an instance's attempts on a key reach the server in order. */
  readonly #acquiring = new Map<string, Promise<void>>();
  #nextCleanup = 0;
  #cleaning = false;
  #closed = false;

  /** @param claims `['exclusive', 'shared']` (a read-write lock) or `['permits']` (a semaphore). */
  constructor(settings: PostgresClaimSettings, claims: readonly ClaimKind[]) {
    this.#settings = settings;
    this.#sql = claimStatements(settings.names);
    const common = {
      claims: Object.freeze([...claims]),
      waitList: Object.freeze({ leave: (key: string, token: string) => this.leave(key, token) }),
      inspectHolders: (key: string) => this.inspectHolders(key),
    };
    this.features = Object.freeze(
      settings.listen === false
        ? common
        : {
            ...common,
            releaseFeed: Object.freeze({ watch: (key: string) => this.#listener().watch(key), unwatch: (key: string) => this.#listener().unwatch(key) }),
          },
    );
  }

  /** Adopts the caller's pool or client, or creates the pool for a connection string. */
  attach(host: DriverHost<PostgresClaimData>): void {
    if (this.#attached !== undefined) throw new Error('a PostgresClaimDriver serves one engine');
    const { operationTimeout, listen, names, source } = this.#settings;
    const connection = resolveConnection(source, operationTimeout);
    const listener =
      listen === false
        ? undefined
        : new ReleaseListener(listen ?? connection.listen, names.channel, operationTimeout, {
            released: (key) => host.released(key),
            maxRetryDelay: () => host.maxRetryDelay,
          });
    this.#attached = { host, connection, listener, placeMs: waitListPlaceMs(host.maxRetryDelay) };
  }

  /** The statements' pool or client. */
  get queryable(): ResolvedConnection['queryable'] {
    return this.#open().connection.queryable;
  }

  acquire(request: AcquireRequest): Promise<AcquireResult<PostgresClaimData>> {
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

  async #acquire({ key, token, ttl, claim, waiting }: AcquireRequest): Promise<AcquireResult<PostgresClaimData>> {
    const stored = storedKey(key);
    const { placeMs } = this.#open();
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
    this.#maybeCleanUp();
    const row = result.rows[0] as { outcome: number; value: string };
    if (row.outcome === 1) return { acquired: true, fencingToken: BigInt(row.value), data: { stored } };
    if (row.outcome === 2) throw new SemaphoreLimitMismatchError(key, limit, Number(row.value), { backend: this.backend });
    return { acquired: false, retryAfter: this.#capWhileDeaf(Number(row.value)) };
  }

  /** Owner-checked: deletes the holder's row and notifies the channel in one statement. */
  async release(lock: HeldLock<PostgresClaimData>): Promise<boolean> {
    const result = await this.#run(this.#sql.release, [lock.data.stored, lock.token, this.#settings.names.channel]);
    const row = result.rows[0] as { live: boolean } | undefined;
    if (row !== undefined) this.#wakeLocally(lock.key);
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
    if (result.rows.length > 0) this.#wakeLocally(key);
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
    const text = claimMigrationSqlFor(names, schema === undefined ? table : `${schema}.${table}`);
    await runQuery(this.queryable, { text }, Math.max(this.#settings.operationTimeout, 10_000));
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
    if (this.#attached === undefined) throw new Error('PostgresClaimDriver used before an engine attached it');
    return this.#attached;
  }

  #listener(): ReleaseListener {
    const listener = this.#open().listener;
    if (listener === undefined) throw new Error('this PostgresClaimDriver has no release feed');
    return listener;
  }

  /** A listening instance hears its own notification; otherwise its waiters of `key` are woken here. */
  #wakeLocally(key: string): void {
    const { listener, host } = this.#open();
    if (listener?.live !== true) host.released(key);
  }

  /** Runs one statement; a missing table, function, sequence or schema becomes {@link PostgresNotMigratedError}. */
  async #run(text: string, values: unknown[]): Promise<PgQueryResult> {
    try {
      return await runQuery(this.queryable, { text, values }, this.#settings.operationTimeout);
    } catch (error) {
      if (isNotMigrated(error) || isMissingFunction(error)) {
        throw new PostgresNotMigratedError(this.#settings.names.claims, { cause: error, sql: 'claimsMigrationSql()' });
      }
      throw error;
    }
  }

  /** While notifications may be missed (the LISTEN connection is reconnecting), poll at most every maxRetryDelay. */
  #capWhileDeaf(retryAfter: number): number {
    const { listener, host } = this.#open();
    if (listener === undefined || listener.live || retryAfter < 0) return retryAfter;
    return Math.min(retryAfter, host.maxRetryDelay);
  }

  #forget(stored: string, token: string): void {
    this.#run(this.#sql.forget, [stored, token, this.#settings.names.channel]).catch(() => undefined);
  }

  /** Rows of ended leases and places, and rows of idle keys, deleted by an instance at most every 30 s. */
  #maybeCleanUp(): void {
    const now = performance.now();
    if (this.#cleaning || this.#closed || now < this.#nextCleanup) return;
    this.#cleaning = true;
    this.#nextCleanup = now + CLEANUP_INTERVAL_MS;
    this.#run(this.#sql.cleanup, [])
      .then((result) => {
        if (Number(result.rows[0]?.['n'] ?? 0) >= CLEANUP_BATCH) this.#nextCleanup = performance.now() + CLEANUP_AGAIN_MS;
      })
      .catch(() => undefined)
      .finally(() => {
        this.#cleaning = false;
      });
  }
}
