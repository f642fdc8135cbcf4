import type { AcquireOptions, LockCapabilities, LockHandle, RenewObserver } from '../types.js';

/** What a read-write lock's `inspect()` reports about a key. */
export interface RWLockInfo {
  readonly key: string;
  /** Readers holding the key now. */
  readonly readers: number;
  /** Whether a writer holds the key now. */
  readonly writer: boolean;
  /** The highest fencing token among the holders (the latest acquisition). */
  readonly fencingToken: bigint;
  /** Callers waiting for the key (on the server, across every process). */
  readonly waiting: number;
}

/**
 * A read-write lock: many readers or one writer per key. Writer-preferring FIFO: once a writer
 * waits, later readers queue behind it (no writer starvation), and readers queued together enter
 * together. Every acquisition gets a fencing token that strictly increases per key across readers
 * and writers, so a resource can fence writes.
 *
 * @example
 * ```ts
 * const rw = new MemoryReadWriteLock();
 * {
 *   await using read = await rw.readLock('catalog', { ttl: 5_000 });
 *   render(await catalog.load());
 * }
 * await using write = await rw.writeLock('catalog', { ttl: 5_000 });
 * await catalog.save(next, { fence: write.fencingToken });
 * ```
 */
export interface DistributedRWLock {
  /** Backend name used in errors and logs (`memory`, `redis`, `etcd`). */
  readonly backend: string;
  readonly capabilities: LockCapabilities;
  /** One attempt to read: `null` when a writer holds the key or waits for it. */
  tryReadLock(key: string, options?: AcquireOptions): Promise<LockHandle | null>;
  /** Waits until reading is allowed, `waitTimeout` passes or `signal` aborts. */
  readLock(key: string, options?: AcquireOptions): Promise<LockHandle>;
  /** One attempt to write: `null` when anyone holds the key or waits for it. */
  tryWriteLock(key: string, options?: AcquireOptions): Promise<LockHandle | null>;
  /** Waits until the key is this writer's alone, `waitTimeout` passes or `signal` aborts. */
  writeLock(key: string, options?: AcquireOptions): Promise<LockHandle>;
  /** Owner-checked release of a read or write handle; `LockNotHeldError` if it no longer holds. */
  unlock(handle: LockHandle): Promise<void>;
  /** Owner-checked extension to `ttl` (default: the handle's ttl); `LockNotHeldError` if lost. */
  renew(handle: LockHandle, ttl?: number): Promise<void>;
  /** Keeps `handle` alive by renewing it at ttl/3 (batched) until released, lost, or stopped. */
  autoRenew(handle: LockHandle, observer?: RenewObserver): () => void;
  /** Readers, writer, latest fencing token and waiters of `key`, or `null` when nobody holds it. */
  inspect(key: string): Promise<RWLockInfo | null>;
  /** Releases every lock this instance holds, fails its waiters, stops its timers. */
  close(): Promise<void>;
}
