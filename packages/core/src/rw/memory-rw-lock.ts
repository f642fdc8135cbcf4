import { MemoryClaimDriver } from '../claims/memory-claim-driver.js';
import { MemoryClaimStore, storeOption } from '../claims/memory-claim-store.js';
import type { LockEngineOptions } from '../engine/options.js';
import { ReadWriteLockEngine } from './rw-lock-engine.js';

/** Options of {@link MemoryReadWriteLock}. */
export interface MemoryReadWriteLockOptions extends LockEngineOptions {
  /**
   * Where the locks live. Instances on one store exclude each other.
   * @default the process-wide store of read-write locks
   */
  store?: MemoryClaimStore;
}

/** The store `new MemoryReadWriteLock()` uses unless given one. */
const defaultStore = new MemoryClaimStore();

/**
 * A read-write lock inside one process, with the whole contract: many readers or one writer,
 * writer-preferring FIFO, TTLs, fencing tokens across readers and writers, waiting with prompt
 * wake-up, abort and timeout. Start with it; switch to Redis or etcd without touching the code
 * that locks.
 *
 * @example
 * ```ts
 * const rw = new MemoryReadWriteLock();
 * await using read = await rw.readLock('config', { ttl: 5_000 });
 * ```
 */
export class MemoryReadWriteLock extends ReadWriteLockEngine<undefined> {
  /** Where the locks live (see {@link MemoryReadWriteLockOptions.store}). */
  readonly store: MemoryClaimStore;

  constructor(options: MemoryReadWriteLockOptions = {}) {
    const store = storeOption(options, defaultStore);
    super(new MemoryClaimDriver(store, ['exclusive', 'shared']), options, { names: ['store'], what: 'new MemoryReadWriteLock()' });
    this.store = store;
  }
}
