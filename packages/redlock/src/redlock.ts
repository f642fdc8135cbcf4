import { LockEngine } from '@dlock/core';
import type { RedisLockKeys } from '@dlock/redis/protocol';
import type { RedlockNode } from './node-client.js';
import { redlockOptionNames, type RedlockOptions } from './options.js';
import { RedlockDriver } from './redlock-driver.js';

/**
 * Redlock: one lock over N independent Redis masters (no replication between them). A lock is
 * held while a majority of nodes hold its token; any minority of nodes may be down, stopped or
 * partitioned away without stopping locking.
 *
 * Each attempt: a fresh random token; the start read from the monotonic clock; `SET NX PX` on all
 * nodes at once, each bounded by `nodeTimeout`; then validity = ttl - elapsed - drift. It counts
 * only with a quorum and validity > 0; otherwise the attempt is undone on every node (including
 * those that did not answer in time). Waiters are woken by release announcements and otherwise
 * sleep no longer than the leases the nodes reported. A TTL below `capabilities.minTtlMs` is an
 * `InvalidOptionError` (tryLock, lock, renew, `defaultTtl`), before any I/O.
 *
 * Read the README before relying on it for correctness: the guarantees assume bounded process
 * pauses and clock drift, and nodes that do not come back empty within a TTL.
 *
 * @example
 * ```ts
 * const redlock = new Redlock(['redis://10.0.0.1', 'redis://10.0.0.2', 'redis://10.0.0.3']);
 * await using lock = await redlock.lock('invoice:42', { ttl: 10_000 });
 * await ledger.write(invoice, { fence: lock.fencingToken });
 * ```
 */
export class Redlock extends LockEngine<RedisLockKeys> {
  declare readonly backend: 'redlock';
  /** Nodes that must agree: `floor(nodes / 2) + 1` (3 of 5). */
  readonly quorum: number;
  readonly #driver: RedlockDriver;

  /**
   * @param nodes The independent masters: ioredis clients (left open by `close()`), or ioredis
   *   options / `redis://` URLs (Redlock connects, and disconnects at `close()`). Use an odd
   *   number, 3 or 5.
   * @param options See {@link RedlockOptions}.
   */
  constructor(nodes: readonly RedlockNode[], options: RedlockOptions = {}) {
    // The driver checks the nodes and Redlock's options; the engine its own, then connects it.
    const driver = new RedlockDriver(nodes, options);
    super(driver, options, { names: redlockOptionNames, what: 'new Redlock()' });
    this.#driver = driver;
    this.quorum = driver.quorum;
  }

  /** Number of nodes. */
  get nodeCount(): number {
    return this.#driver.nodeCount;
  }

  /**
   * The allowance for clock drift subtracted from the validity of a lease of `ttl` ms:
   * `ttl * driftFactor + driftMs`.
   * @example
   * ```ts
   * new Redlock(nodes).drift(10_000); // 102 (ms) with the defaults
   * ```
   */
  drift(ttl: number): number {
    return this.#driver.drift(ttl);
  }
}
