import { InvalidOptionError, LockClosedError, UnknownBackendError } from './errors.js';
import { rejectUnknownOptions } from './validate.js';
import { LockService } from './lock-service.js';
import type { TryWithLockResult, WithLockOptions } from './lock-service-options.js';
import type { DistributedLock, LockHandle, LockInfo } from './types.js';

/** Options of `LockManager.register`. */
export interface RegisterOptions {
  /** Make this the backend used when no name is given. The first one registered is, by default. */
  default?: boolean;
}

/**
 * Several lock backends by name, chosen per operation: e.g. `memory` for process-local work,
 * `redis` for fast cross-service locks, `etcd` where strict fencing matters.
 *
 * @example
 * ```ts
 * const locks = new LockManager();
 * locks.register('redis', new RedisLock(redis), { default: true });
 * locks.register('etcd', new LockService(new EtcdMutex(etcd), { ttl: 10_000 }));
 * await locks.withLock('etcd', 'billing:run', () => chargeAll());
 * ```
 */
export class LockManager implements AsyncDisposable {
  readonly #services = new Map<string, LockService>();
  #default: string | undefined;
  #closed: Promise<void> | undefined;

  /** Registers a backend (a `LockService`, or a bare `DistributedLock` wrapped in one). */
  register(name: string, serviceOrLock: LockService | DistributedLock, options: RegisterOptions = {}): LockService {
    if (typeof name !== 'string' || name.length === 0) throw new InvalidOptionError('name', 'a non-empty string', name);
    rejectUnknownOptions(options, ['default'], 'register()');
    if (this.#closed) throw new LockClosedError('lock manager', 'register', name);
    if (this.#services.has(name)) throw new InvalidOptionError('name', 'a name not registered yet', name);
    const service = serviceOrLock instanceof LockService ? serviceOrLock : new LockService(serviceOrLock);
    this.#services.set(name, service);
    if (options.default || this.#default === undefined) this.#default = name;
    return service;
  }

  /** Removes a backend without closing it; returns it (or `undefined` if unknown). */
  unregister(name: string): LockService | undefined {
    const service = this.#services.get(name);
    this.#services.delete(name);
    if (this.#default === name) this.#default = this.#services.keys().next().value;
    return service;
  }

  /** The backend `name`, or the default one. `UnknownBackendError` if there is none. */
  get(name?: string): LockService {
    const wanted = name ?? this.#default;
    const service = wanted === undefined ? undefined : this.#services.get(wanted);
    if (service === undefined) throw new UnknownBackendError(wanted ?? '(default)', this.names());
    return service;
  }

  /** Whether a backend named `name` is registered. */
  has(name: string): boolean {
    return this.#services.has(name);
  }

  /** Registered names in registration order. */
  names(): string[] {
    return [...this.#services.keys()];
  }

  /** The default backend's name, if any. */
  get defaultName(): string | undefined {
    return this.#default;
  }

  /** `withLock` on the backend `name` (see `LockService.withLock`). */
  async withLock<T>(
    name: string | undefined,
    key: string,
    fn: (handle: LockHandle) => Promise<T> | T,
    options?: WithLockOptions,
  ): Promise<T> {
    return this.get(name).withLock(key, fn, options);
  }

  /** `tryWithLock` on the backend `name`. */
  async tryWithLock<T>(
    name: string | undefined,
    key: string,
    fn: (handle: LockHandle) => Promise<T> | T,
    options?: WithLockOptions,
  ): Promise<TryWithLockResult<T>> {
    return this.get(name).tryWithLock(key, fn, options);
  }

  async isLocked(name: string | undefined, key: string): Promise<boolean> {
    return this.get(name).isLocked(key);
  }

  async getLockInfo(name: string | undefined, key: string): Promise<LockInfo | null> {
    return this.get(name).getLockInfo(key);
  }

  /**
   * Closes every registered backend once (a lock registered under two names is closed once).
   * Rejects with an `AggregateError` of the failures after trying them all.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      const locks = new Set([...this.#services.values()].map((s) => s.lock));
      const results = await Promise.allSettled([...locks].map((l) => l.close()));
      const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      if (failures.length > 0) throw new AggregateError(failures, `${failures.length} lock backend(s) failed to close`);
    })();
    return this.#closed;
  }

  /** `await using manager = new LockManager()`: {@link close} at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
