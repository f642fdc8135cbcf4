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
import { TableAccessError, type LockTable } from './lock-table.js';

/** What the driver keeps per held lock (`D`): the table row it wrote, computed once at acquire. */
export interface TableLockData {
  readonly row: string;
}

/** A dlock backend over a {@link LockTable}: each method is one owner-checked table operation. */
export class TableDriver implements LockDriver<TableLockData> {
  readonly backend = 'table';
  readonly capabilities: LockCapabilities = Object.freeze({ ttlGranularityMs: 1, minTtlMs: 1, fencing: 'strict' });
  readonly features: DriverFeatures<TableLockData>;
  #host: DriverHost<TableLockData> | undefined;
  #stopClearListener: (() => void) | undefined;
  /** The table tells of a release of one of our rows: local waiters of that key try again. */
  readonly #onRelease = (row: string): void => this.#host?.released(row.slice(this.prefix.length));

  constructor(
    private readonly table: LockTable,
    private readonly prefix: string,
  ) {
    this.features = Object.freeze({
      claims: ['exclusive'] as const,
      releaseFeed: {
        watch: (key: string) => this.table.watch(this.#row(key), this.#onRelease),
        unwatch: (key: string) => this.table.unwatch(this.#row(key), this.#onRelease),
      },
    });
  }

  attach(host: DriverHost<TableLockData>): void {
    this.#host = host;
    // A cleared table took every lock with it: report each one lost now, not at its next renewal.
    this.#stopClearListener = this.table.onClear(() => {
      for (const lock of host.held()) host.lost(lock, 'the lock table was cleared');
    });
  }

  async acquire({ key, token, ttl }: AcquireRequest): Promise<AcquireResult<TableLockData>> {
    const row = this.#row(key);
    const r = this.table.acquire(row, token, ttl);
    return 'fence' in r ? { acquired: true, fencingToken: r.fence, data: { row } } : { acquired: false, retryAfter: r.retryAfter };
  }

  async release(lock: HeldLock<TableLockData>): Promise<boolean> {
    return this.table.release(lock.data.row, lock.token);
  }

  async renew(lock: HeldLock<TableLockData>, ttl: number): Promise<boolean> {
    return this.table.renew(lock.data.row, lock.token, ttl);
  }

  async renewMany(locks: readonly HeldLock<TableLockData>[]): Promise<Array<boolean | Error>> {
    return locks.map((lock) => this.table.renew(lock.data.row, lock.token, lock.ttl));
  }

  abandon(lock: HeldLock<TableLockData>): void {
    try {
      this.table.release(lock.data.row, lock.token);
    } catch {
      // Best effort: an unreachable table lets the lease run out by itself.
    }
  }

  async inspect(key: string): Promise<LockInfo | null> {
    const row = this.table.get(this.#row(key));
    if (row === undefined) return null;
    const ttlRemaining = Math.max(0, Math.ceil(row.expiresAt - performance.now()));
    return { key, holder: row.token.slice(0, 8), ttlRemaining, fencingToken: row.fence };
  }

  isTransient(error: unknown): boolean {
    // Only what is known to be permanent is: an unknown failure (the engine also asks about its
    // own, such as an acquire answered after its lease ran out) is worth a retry.
    return !(error instanceof TableAccessError);
  }

  async close(): Promise<void> {
    this.#stopClearListener?.();
  }

  #row(key: string): string {
    return this.prefix + key;
  }
}
