import type { AcquireOptions, LockCapabilities, LockHandle, RenewObserver } from '../types.js';

/** Options of one semaphore acquisition. Every field is validated before any I/O. */
export interface SemaphoreOptions extends AcquireOptions {
  /**
   * Most permits of the key held at once. An integer from 1 to 2^31 - 1. Every caller of a key
   * uses the same limit while anyone holds or waits for it (`SemaphoreLimitMismatchError`
   * otherwise).
   */
  limit: number;
  /**
   * Permits this acquisition takes: an integer from 1 to `limit`.
   * @default 1
   */
  permits?: number;
}

/** What a semaphore's `inspect()` reports about a key. */
export interface SemaphoreInfo {
  readonly key: string;
  /** Permits held now. */
  readonly used: number;
  /** Acquisitions holding them. */
  readonly holders: number;
  /** The key's limit (the holders'). */
  readonly limit: number;
  /** The highest fencing token among the holders (the latest acquisition). */
  readonly fencingToken: bigint;
  /** Callers waiting for permits (on the server, across every process). */
  readonly waiting: number;
}

/**
 * A counting semaphore: at most `limit` permits of a key held at once, across every process.
 * FIFO: a waiter asking for several permits is not overtaken by later smaller requests. Each
 * acquisition is a handle with its own lease, fencing token (strictly increasing per key) and
 * lost-lease signal.
 *
 * @example
 * ```ts
 * const sem = new MemorySemaphore();
 * await using permit = await sem.acquire('exports', { limit: 4, ttl: 30_000 });
 * await runExport({ signal: permit.signal });
 * ```
 */
export interface DistributedSemaphore {
  /** Backend name used in errors and logs (`memory`, `redis`, `etcd`). */
  readonly backend: string;
  readonly capabilities: LockCapabilities;
  /** One attempt: `null` when the permits do not fit now, or earlier callers wait for permits. */
  tryAcquire(key: string, options: SemaphoreOptions): Promise<LockHandle | null>;
  /** Waits until the permits are this caller's, `waitTimeout` passes or `signal` aborts. */
  acquire(key: string, options: SemaphoreOptions): Promise<LockHandle>;
  /** Owner-checked release of the handle's permits; `LockNotHeldError` if it no longer holds them. */
  release(handle: LockHandle): Promise<void>;
  /** Owner-checked extension to `ttl` (default: the handle's ttl); `LockNotHeldError` if lost. */
  renew(handle: LockHandle, ttl?: number): Promise<void>;
  /** Keeps `handle` alive by renewing it at ttl/3 (batched) until released, lost, or stopped. */
  autoRenew(handle: LockHandle, observer?: RenewObserver): () => void;
  /** Permits in use, holders, limit and waiters of `key`, or `null` when nobody holds a permit. */
  inspect(key: string): Promise<SemaphoreInfo | null>;
  /** Releases every permit this instance holds, fails its waiters, stops its timers. */
  close(): Promise<void>;
}
