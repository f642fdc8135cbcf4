import { MemoryClaimDriver } from '../claims/memory-claim-driver.js';
import { MemoryClaimStore, storeOption } from '../claims/memory-claim-store.js';
import type { LockEngineOptions } from '../engine/options.js';
import { SemaphoreEngine } from './semaphore-engine.js';

/** Options of {@link MemorySemaphore}. */
export interface MemorySemaphoreOptions extends LockEngineOptions {
  /**
   * Where the permits live. Instances on one store share each key's permits.
   * @default the process-wide store of semaphores
   */
  store?: MemoryClaimStore;
}

/** The store `new MemorySemaphore()` uses unless given one. */
const defaultStore = new MemoryClaimStore();

/**
 * A counting semaphore inside one process, with the whole contract: at most `limit` permits per
 * key, FIFO (a large request is not overtaken), TTLs, fencing tokens, waiting with prompt
 * wake-up, abort and timeout.
 *
 * @example
 * ```ts
 * const sem = new MemorySemaphore();
 * await using permit = await sem.acquire('thumbnails', { limit: 4 });
 * ```
 */
export class MemorySemaphore extends SemaphoreEngine<undefined> {
  /** Where the permits live (see {@link MemorySemaphoreOptions.store}). */
  readonly store: MemoryClaimStore;

  constructor(options: MemorySemaphoreOptions = {}) {
    const store = storeOption(options, defaultStore);
    super(new MemoryClaimDriver(store, ['permits']), options, { names: ['store'], what: 'new MemorySemaphore()' });
    this.store = store;
  }
}
