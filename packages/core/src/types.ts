/** Options of one acquisition. Every field is validated before any I/O. */
export interface AcquireOptions {
  /**
   * Lease length in milliseconds: how long the lock stays held if the holder stops renewing.
   * A finite integer >= 1; a backend may round up to its granularity (etcd: whole seconds).
   * @default 30_000 (or the lock instance's `defaultTtl`)
   */
  ttl?: number;
  /**
   * `lock()` only: give up with `LockAcquireTimeoutError` after this many milliseconds.
   * A finite number >= 0; `0` means a single attempt. Ignored by `tryLock()`.
   * @default undefined (wait until `signal` aborts)
   */
  waitTimeout?: number;
  /** Abort waiting; the call rejects with `signal.reason` and leaves no trace on the backend. */
  signal?: AbortSignal;
}

/**
 * A held lock. Ownership is `token`, never the key: two holders in one process cannot release
 * each other's locks.
 *
 * @example
 * ```ts
 * await using handle = await lock.lock('jobs:nightly', { ttl: 10_000 });
 * await db.write({ fence: handle.fencingToken });
 * ```
 */
export interface LockHandle extends AsyncDisposable {
  /** The key as the caller passed it. */
  readonly key: string;
  /** Owner identity: 128 random bits (hex), from `crypto.randomBytes`. */
  readonly token: string;
  /**
   * Strictly increasing per key across all holders (given by the server). Pass it to the
   * resource you protect and reject writes carrying a lower one. `0n` when the backend has
   * no fencing (see the backend's `capabilities.fencing`).
   */
  readonly fencingToken: bigint;
  /** Monotonic deadline (`performance.now()` scale) until which the lock is surely held. */
  readonly validUntil: number;
  /** Aborts with `LockLostError` when the lock is lost, or `LockReleasedError` on release. */
  readonly signal: AbortSignal;
  /** `true` until released or lost. */
  readonly held: boolean;
  /** Same as `lock.unlock(handle)`. */
  release(): Promise<void>;
  /** Same as `lock.renew(handle, ttl)`. */
  extend(ttl?: number): Promise<void>;
}

/** What `inspect()` reports about a key. */
export interface LockInfo {
  readonly key: string;
  /** First 8 hex characters of the holder's token: enough to correlate in logs, useless to forge. */
  readonly holder: string;
  /** Milliseconds until the lease expires unless renewed; `-1` if the backend cannot tell. */
  readonly ttlRemaining: number;
  /** The holder's fencing token (`0n` without fencing). */
  readonly fencingToken: bigint;
}

/** What a backend can and cannot promise; the contract suite adapts to these instead of forking. */
export interface LockCapabilities {
  /** TTLs are rounded up to a multiple of this many ms (1 for Redis, 1000 for etcd leases). */
  readonly ttlGranularityMs: number;
  /** Smallest effective TTL in ms (etcd enforces a minimum lease TTL). */
  readonly minTtlMs: number;
  /** `strict`: fencing tokens strictly increase per key across all holders. `none`: always `0n`. */
  readonly fencing: 'strict' | 'none';
}

/** The interface every dlock backend implements. */
export interface DistributedLock {
  /** Backend name used in errors and logs (`memory`, `redis`, `etcd`, `redlock`). */
  readonly backend: string;
  readonly capabilities: LockCapabilities;
  /** One attempt: a handle, or `null` when someone else holds the key. */
  tryLock(key: string, options?: AcquireOptions): Promise<LockHandle | null>;
  /** Waits until acquired, `waitTimeout` passes (`LockAcquireTimeoutError`) or `signal` aborts. */
  lock(key: string, options?: AcquireOptions): Promise<LockHandle>;
  /** Owner-checked release; `LockNotHeldError` if this handle no longer holds the lock. */
  unlock(handle: LockHandle): Promise<void>;
  /** Owner-checked extension to `ttl` (default: the handle's ttl); `LockNotHeldError` if lost. */
  renew(handle: LockHandle, ttl?: number): Promise<void>;
  /** Whether anyone holds `key` right now. */
  isLocked(key: string): Promise<boolean>;
  /** Holder, remaining TTL and fencing token of `key`, or `null` if free. */
  inspect(key: string): Promise<LockInfo | null>;
  /**
   * Keeps `handle` alive by renewing it at ttl/3 until it is released or lost, or the returned
   * function is called (dlock's locks batch the renewals of all their handles). `observer` is
   * told of each renewal and each failed one.
   */
  autoRenew(handle: LockHandle, observer?: RenewObserver): () => void;
  /** Releases every lock this instance holds, stops its timers; later calls reject with `LockClosedError`. */
  close(): Promise<void>;
}

/** Told of each watchdog renewal of one handle (see `autoRenew`). Must not throw; errors are ignored. */
export interface RenewObserver {
  renewed?(handle: LockHandle): void;
  /** A renewal failed for a reason that may pass; it is retried until `validUntil`. */
  renewFailed?(handle: LockHandle, error: Error): void;
}
