import { LockEngine } from '../engine/lock-engine.js';
import type { HandOverOptions, LockEngineOptions } from '../engine/options.js';
import { MemoryDriver } from './memory-driver.js';
import { defaultMemoryStore, type MemoryLockStore } from './memory-store.js';

/** Options of {@link MemoryLock}. */
export interface MemoryLockOptions extends LockEngineOptions, HandOverOptions {
  /**
   * Where the locks live. Instances on one store exclude each other.
   * @default the process-wide default store
   */
  store?: MemoryLockStore;
}

/**
 * The whole lock contract inside one process: TTL, fencing tokens, FIFO waiting with prompt
 * wake-up, abort and timeout. The embedded default: start without any server, switch the
 * backend later without touching the code that locks.
 *
 * @example
 * ```ts
 * const lock = new MemoryLock();
 * await using handle = await lock.lock('device:42', { ttl: 5_000 });
 * ```
 */
export class MemoryLock extends LockEngine<undefined> {
  /** Where the locks live (see {@link MemoryLockOptions.store}). */
  readonly store: MemoryLockStore;

  constructor(options: MemoryLockOptions = {}) {
    const store = typeof options === 'object' && options !== null && options.store !== undefined ? options.store : defaultMemoryStore;
    super(new MemoryDriver(store), options, { names: ['store'], what: 'new MemoryLock()' });
    this.store = store;
  }
}
