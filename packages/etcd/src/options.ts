import { InvalidOptionError, validateTtl, validateWaitTimeout, type LockEngineOptions } from '@dlock/core';

/**
 * Options of {@link EtcdLock} and {@link EtcdMutex} (plus `defaultTtl`, `maxRetryDelay`,
 * `unavailableTimeout` and `clock` from `LockEngineOptions`).
 *
 * @example
 * ```ts
 * new EtcdMutex(client, { prefix: 'myapp/locks/', defaultTtl: 15_000, leaseIdleTimeout: 10_000 });
 * ```
 */
export interface EtcdLockOptions extends LockEngineOptions {
  /**
   * Namespace of every key the lock writes. `EtcdLock` uses `<prefix><key>`; `EtcdMutex` queues
   * under `<prefix><key>/` like etcd's Go `concurrency.Mutex`, so with `prefix: ''` a mutex on
   * `jobs` contends with `etcdctl lock jobs`. Instances contend only when they share a prefix.
   * @default 'dlock/lock/' for EtcdLock, 'dlock/mutex/' for EtcdMutex
   * @example 'myapp/locks/'
   */
  prefix?: string;
  /**
   * For a client the lock creates from options: the longest one request to etcd takes, retries
   * included, in ms (see `etcdClientOptions`). So against an unreachable etcd, `tryLock()`,
   * `unlock()`, `inspect()` fail with `LockBackendError` (naming the failure, e.g. `ECONNREFUSED`)
   * after about this long. For every client: the longest wait for etcd to answer a lease
   * keep-alive before the keep-alive stream is re-opened.
   * @default 2_000
   * @example 1_000
   */
  callTimeout?: number;
  /**
   * A shared lease that carries no key for this many ms is revoked. Keeping it a little while
   * lets the next lock reuse it (one request instead of three); `0` revokes at once.
   * @default 1_000
   * @example 30_000
   */
  leaseIdleTimeout?: number;
}

/**
 * Options of {@link EtcdMutex}: those of {@link EtcdLockOptions}, plus the queue depth.
 *
 * @example
 * ```ts
 * new EtcdMutex(client, { prefix: '', maxQueuedPerName: 1 }); // one key per instance and name, like Go's Session
 * ```
 */
export interface EtcdMutexOptions extends EtcdLockOptions {
  /**
   * How many `lock()` callers of this instance may have a key queued in etcd for one name at the
   * same time; further callers wait in this process (first come, first served) and queue in etcd
   * when an earlier one of theirs is done. Callers with a key are served in the order they came
   * across every instance (etcd orders keys by create revision), so up to this many waiters per
   * instance the mutex is fair across processes; each costs one key while it waits. `1` is the
   * layout of Go's `concurrency.Mutex` with one `Session` (not fair: an instance's callers then
   * queue in etcd one after another).
   * @default 64
   * @example 1
   */
  maxQueuedPerName?: number;
}

/**
 * Defaults of {@link EtcdLockOptions} and {@link EtcdMutexOptions}.
 *
 * @example
 * ```ts
 * const etcdName = `${defaultEtcdLockOptions.mutexPrefix}jobs`; // what `etcdctl lock` calls our "jobs"
 * ```
 */
export const defaultEtcdLockOptions = Object.freeze({
  lockPrefix: 'dlock/lock/',
  mutexPrefix: 'dlock/mutex/',
  callTimeout: 2_000,
  leaseIdleTimeout: 1_000,
  maxQueuedPerName: 64,
});

/** Names of the options of {@link EtcdLockOptions} beyond the engine's. */
export const etcdOptionNames: readonly string[] = Object.freeze(['prefix', 'callTimeout', 'leaseIdleTimeout']);

/** Options after validation. */
export interface ResolvedEtcdOptions {
  prefix: string;
  callTimeout: number;
  leaseIdleTimeout: number;
}

export function resolveEtcdOptions(options: EtcdLockOptions, defaultPrefix: string): ResolvedEtcdOptions {
  const prefix = options.prefix ?? defaultPrefix;
  if (typeof prefix !== 'string') throw new InvalidOptionError('prefix', 'a string', prefix);
  return {
    prefix,
    callTimeout:
      options.callTimeout === undefined ? defaultEtcdLockOptions.callTimeout : validateTtl(options.callTimeout, 'callTimeout'),
    leaseIdleTimeout:
      options.leaseIdleTimeout === undefined
        ? defaultEtcdLockOptions.leaseIdleTimeout
        : validateWaitTimeout(options.leaseIdleTimeout, 'leaseIdleTimeout'),
  };
}
