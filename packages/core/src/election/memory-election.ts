import type { AcquireRequest, AcquireResult, DriverFeatures, DriverHost, HeldLock } from '../engine/driver.js';
import type { LockEngineOptions } from '../engine/options.js';
import type { LockCapabilities, LockInfo } from '../types.js';
import { ElectionEngine } from './election-engine.js';
import { defaultMemoryElectionStore, type MemoryElectionStore } from './memory-election-store.js';
import type { ElectionDriver, LeaderInfo } from './types.js';

/** Options of {@link MemoryElection}. */
export interface MemoryElectionOptions extends LockEngineOptions {
  /**
   * Where the elections live. Instances on one store take part in the same elections.
   * @default the process-wide default store
   */
  store?: MemoryElectionStore;
}

/** The memory backend's election driver: a {@link MemoryElectionStore} that tells of every change. */
export class MemoryElectionDriver implements ElectionDriver<undefined> {
  readonly backend = 'memory';
  readonly capabilities: LockCapabilities = Object.freeze({ ttlGranularityMs: 1, minTtlMs: 1, fencing: 'strict' });
  readonly features: DriverFeatures<undefined> = Object.freeze({ claims: ['exclusive'] as const });
  readonly campaigns = new Map<string, string>();
  #host: DriverHost<undefined> | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(readonly store: MemoryElectionStore) {}

  attach(host: DriverHost<undefined>): void {
    this.#host = host;
    this.#unsubscribe = this.store.onEnded((name) => host.released(name));
  }

  async acquire({ key, token, ttl }: AcquireRequest): Promise<AcquireResult<undefined>> {
    const r = this.store.campaign(key, token, this.campaigns.get(key) ?? '', ttl);
    return 'term' in r ? { acquired: true, fencingToken: r.term, data: undefined } : { acquired: false, retryAfter: r.retryAfter };
  }

  async release(lock: HeldLock<undefined>): Promise<boolean> {
    return this.store.resign(lock.key, lock.token);
  }

  async renew(lock: HeldLock<undefined>, ttl: number): Promise<boolean> {
    return this.store.renew(lock.key, lock.token, ttl);
  }

  async renewMany(locks: readonly HeldLock<undefined>[]): Promise<Array<boolean | Error>> {
    return locks.map((lock) => this.store.renew(lock.key, lock.token, lock.ttl));
  }

  abandon(lock: HeldLock<undefined>): void {
    this.store.resign(lock.key, lock.token);
  }

  async proclaim(lock: HeldLock<undefined>, value: string): Promise<boolean> {
    const ours = this.store.proclaim(lock.key, lock.token, value);
    if (!ours) this.#host?.lost(lock, 'the leadership was gone when it proclaimed');
    return ours;
  }

  async leader(name: string): Promise<LeaderInfo | null> {
    const leader = this.store.leader(name);
    return leader === null ? null : { value: leader.value, term: leader.term };
  }

  async observe(name: string, emit: (leader: LeaderInfo | null) => void, signal: AbortSignal): Promise<void> {
    const unsubscribe = this.store.onChange(name, emit);
    try {
      emit(await this.leader(name));
      await new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener('abort', () => resolve(), { once: true });
      });
    } finally {
      unsubscribe();
    }
  }

  async inspect(key: string): Promise<LockInfo | null> {
    const leader = this.store.leader(key);
    return leader === null ? null : { key, holder: leader.token.slice(0, 8), ttlRemaining: leader.ttlRemaining, fencingToken: leader.term };
  }

  isTransient(): boolean {
    return true;
  }

  async close(): Promise<void> {
    this.#unsubscribe?.();
  }
}

/**
 * Leader election inside one process (instances on one store take part in the same elections):
 * the whole election contract without a server, for tests and for trying dlock out.
 *
 * @example
 * ```ts
 * const election = new MemoryElection();
 * await using leadership = await election.campaign('cron', 'pod-a', { ttl: 5_000 });
 * await report({ leader: 'pod-a', fence: leadership.term });
 * ```
 */
export class MemoryElection extends ElectionEngine<undefined> {
  /** Where the elections live (see {@link MemoryElectionOptions.store}). */
  readonly store: MemoryElectionStore;

  constructor(options: MemoryElectionOptions = {}) {
    const store = typeof options === 'object' && options !== null && options.store !== undefined ? options.store : defaultMemoryElectionStore;
    super(new MemoryElectionDriver(store), options, { names: ['store'], what: 'new MemoryElection()' });
    this.store = store;
  }
}
