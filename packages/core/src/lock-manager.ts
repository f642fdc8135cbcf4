import { InvalidOptionError, LockClosedError, UnknownBackendError } from './errors.js';
import type { Election, Leadership } from './election/types.js';
import { rejectUnknownOptions } from './validate.js';
import { LockService, primitiveKind, type LockPrimitive, type PrimitiveKind } from './lock-service.js';
import type { LeadOptions, TryWithLockResult, WithLockOptions, WithPermitOptions } from './lock-service-options.js';
import type { DistributedRWLock } from './rw/types.js';
import type { DistributedSemaphore } from './semaphore/types.js';
import type { DistributedLock, LockHandle, LockInfo } from './types.js';

/** Options of `LockManager.register`. */
export interface RegisterOptions {
  /**
   * Make this the backend used when no name is given, for its kind of primitive (mutex,
   * read-write lock, semaphore, election). The first one registered of each kind is, by default.
   */
  default?: boolean;
}

/** How errors name each kind of primitive. */
const kindWords: Record<PrimitiveKind, string> = { mutex: 'mutex', rw: 'read-write lock', semaphore: 'semaphore', election: 'election' };

/** What one name holds: at most one primitive of each kind, each in its service. */
type Slots = Partial<Record<PrimitiveKind, LockService<LockPrimitive>>>;

/**
 * Several lock backends by name, chosen per operation: e.g. `memory` for process-local work,
 * `redis` for fast cross-service locks, `etcd` where strict fencing matters. A name holds one
 * primitive of each kind: a mutex (`withLock`), a read-write lock (`withReadLock`,
 * `withWriteLock`), a semaphore (`withPermit`) and an election (`lead`), so `redis` can stand
 * for all the Redis primitives of a service.
 *
 * @example
 * ```ts
 * const locks = new LockManager();
 * locks.register('redis', new RedisLock(redis), { default: true });
 * locks.register('redis', new RedisReadWriteLock(redis));
 * locks.register('redis', new RedisSemaphore(redis));
 * locks.register('etcd', new LockService(new EtcdMutex(etcd), { ttl: 10_000 }));
 * await locks.withLock('etcd', 'billing:run', () => chargeAll());
 * const items = await locks.withReadLock('redis', 'catalog', () => catalog.list());
 * await locks.withPermit('redis', 'pdf-render', () => render(doc), { limit: 4 });
 * ```
 */
export class LockManager implements AsyncDisposable {
  /** name -> its primitives, in registration order of the names. */
  readonly #slots = new Map<string, Slots>();
  /** kind -> the name used when none is given. */
  readonly #defaults = new Map<PrimitiveKind, string>();
  #closed: Promise<void> | undefined;

  /**
   * Registers a backend's primitive under `name`: a `LockService`, or a bare primitive wrapped in
   * one (`DistributedLock`, `DistributedRWLock`, `DistributedSemaphore` or `Election`). A name holds
   * one primitive of each kind; registering a second of the same kind under it raises
   * `InvalidOptionError`. Returns the service, typed by what was registered.
   */
  register<L extends LockPrimitive>(name: string, serviceOrLock: LockService<L> | L, options: RegisterOptions = {}): LockService<L> {
    if (typeof name !== 'string' || name.length === 0) throw new InvalidOptionError('name', 'a non-empty string', name);
    rejectUnknownOptions(options, ['default'], 'register()');
    const service = serviceOrLock instanceof LockService ? serviceOrLock : new LockService(serviceOrLock);
    const kind = primitiveKind(service.lock);
    if (this.#closed) throw new LockClosedError('lock manager', 'register', name);
    const slots = this.#slots.get(name) ?? {};
    if (slots[kind] !== undefined) throw new InvalidOptionError('name', `a name that holds no ${kindWords[kind]} yet`, name);
    slots[kind] = service as LockService<LockPrimitive>;
    this.#slots.set(name, slots);
    if (options.default || !this.#defaults.has(kind)) this.#defaults.set(kind, name);
    return service;
  }

  /**
   * Removes every primitive registered under `name` without closing them; returns their
   * services (none if the name is unknown).
   */
  unregister(name: string): Array<LockService<LockPrimitive>> {
    const slots = this.#slots.get(name);
    if (slots === undefined) return [];
    this.#slots.delete(name);
    for (const kind of Object.keys(slots) as PrimitiveKind[]) {
      if (this.#defaults.get(kind) !== name) continue;
      const next = this.names().find((n) => this.#slots.get(n)![kind] !== undefined);
      if (next === undefined) this.#defaults.delete(kind);
      else this.#defaults.set(kind, next);
    }
    return Object.values(slots);
  }

  /** The mutex of backend `name`, or of the default one. `UnknownBackendError` if there is none. */
  get(name?: string): LockService {
    return this.#get(name, 'mutex') as LockService<DistributedLock>;
  }

  /** The read-write lock of backend `name`, or of the default one. `UnknownBackendError` if there is none. */
  getReadWriteLock(name?: string): LockService<DistributedRWLock> {
    return this.#get(name, 'rw') as LockService<DistributedRWLock>;
  }

  /** The semaphore of backend `name`, or of the default one. `UnknownBackendError` if there is none. */
  getSemaphore(name?: string): LockService<DistributedSemaphore> {
    return this.#get(name, 'semaphore') as LockService<DistributedSemaphore>;
  }

  /** The election of backend `name`, or of the default one. `UnknownBackendError` if there is none. */
  getElection(name?: string): LockService<Election> {
    return this.#get(name, 'election') as LockService<Election>;
  }

  /** Whether anything is registered under `name`. */
  has(name: string): boolean {
    return this.#slots.has(name);
  }

  /** Registered names in registration order. */
  names(): string[] {
    return [...this.#slots.keys()];
  }

  /** The name of the default mutex backend, if any. */
  get defaultName(): string | undefined {
    return this.#defaults.get('mutex');
  }

  /** `withLock` on the mutex of backend `name` (see `LockService.withLock`). */
  async withLock<T>(
    name: string | undefined,
    key: string,
    fn: (handle: LockHandle) => Promise<T> | T,
    options?: WithLockOptions,
  ): Promise<T> {
    return this.get(name).withLock(key, fn, options);
  }

  /** `tryWithLock` on the mutex of backend `name`. */
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

  /** `withReadLock` on the read-write lock of backend `name` (see `LockService.withReadLock`). */
  async withReadLock<T>(name: string | undefined, key: string, fn: (handle: LockHandle) => Promise<T> | T, options?: WithLockOptions): Promise<T> {
    return this.getReadWriteLock(name).withReadLock(key, fn, options);
  }

  /** `withWriteLock` on the read-write lock of backend `name`. */
  async withWriteLock<T>(name: string | undefined, key: string, fn: (handle: LockHandle) => Promise<T> | T, options?: WithLockOptions): Promise<T> {
    return this.getReadWriteLock(name).withWriteLock(key, fn, options);
  }

  /** `withPermit` on the semaphore of backend `name` (see `LockService.withPermit`). */
  async withPermit<T>(name: string | undefined, key: string, fn: (handle: LockHandle) => Promise<T> | T, options: WithPermitOptions): Promise<T> {
    return this.getSemaphore(name).withPermit(key, fn, options);
  }

  /** `lead` on the election of backend `name` (see `LockService.lead`). */
  async lead<T>(name: string | undefined, election: string, fn: (leadership: Leadership) => Promise<T> | T, options?: LeadOptions): Promise<T> {
    return this.getElection(name).lead(election, fn, options);
  }

  /**
   * Closes every registered primitive once (one registered under two names is closed once).
   * Rejects with an `AggregateError` of the failures after trying them all.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      const locks = new Set([...this.#slots.values()].flatMap((slots) => Object.values(slots).map((s) => s.lock)));
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

  /** The service of `kind` under `name` (or the kind's default name). */
  #get(name: string | undefined, kind: PrimitiveKind): LockService<LockPrimitive> {
    const wanted = name ?? this.#defaults.get(kind);
    const service = wanted === undefined ? undefined : this.#slots.get(wanted)?.[kind];
    if (service !== undefined) return service;
    const holders = this.names().filter((n) => this.#slots.get(n)![kind] !== undefined);
    // An unknown name is an unknown backend; a known one lacks only this primitive.
    const what = kind === 'mutex' && (wanted === undefined || !this.#slots.has(wanted)) ? 'lock backend' : kindWords[kind];
    throw new UnknownBackendError(wanted ?? '(default)', holders, what);
  }
}
