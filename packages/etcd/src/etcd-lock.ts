import type { AcquireAttempt, LockInfo } from '@dlock/core';
import type { IOptions } from 'etcd3';
import type { EtcdClient } from './client.js';
import { DeleteWatch } from './delete-watch.js';
import { newEntry } from './entry.js';
import { isLeaseNotFound, isTransientEtcdError } from './errors.js';
import { EtcdLockBase } from './etcd-base.js';
import { lockKey } from './keys.js';
import { createRevisionIs, deleteOp, getOp, headerRevision, putOp, rangeKvs, valueIs } from './ops.js';
import { defaultEtcdLockOptions, type EtcdLockOptions } from './options.js';

/**
 * A lock on one etcd key: `<prefix><key>`, created only if absent by a txn
 * `If(createRevision(key) == 0) Then(put(key, token, lease))`, and deleted on release. The
 * fencing token is the revision that created the key.
 *
 * Waiting is the generic retry loop woken by a watch on the key's deletion: every waiting
 * instance retries after a release (the newest request may win). Prefer {@link EtcdMutex} for
 * contended keys: it queues waiters in arrival order and wakes exactly one.
 *
 * Pass an `Etcd3` client you own (it stays open on `close()`; build it with
 * `etcdClientOptions()` for quick recovery from leader changes), or etcd3 options (the lock
 * creates the client, with those settings, and closes it on `close()`).
 *
 * @example
 * ```ts
 * import { EtcdLock } from '@dlock/etcd';
 *
 * const lock = new EtcdLock({ hosts: 'http://127.0.0.1:2379' });
 * const handle = await lock.tryLock('report:daily', { ttl: 10_000 });
 * if (handle) {
 *   try {
 *     await buildReport({ fence: handle.fencingToken });
 *   } finally {
 *     await handle.release();
 *   }
 * }
 * await lock.close();
 * ```
 */
export class EtcdLock extends EtcdLockBase {
  readonly #releaseWatches = new Map<string, DeleteWatch>();

  /**
   * @param client an etcd3 `Etcd3` client (not closed by `close()`), or etcd3 `IOptions` to
   *   create one (closed by `close()`).
   * @param options prefix, timeouts, default TTL; see {@link EtcdLockOptions}.
   */
  constructor(client: EtcdClient | IOptions, options: EtcdLockOptions = {}) {
    super(client, options, defaultEtcdLockOptions.lockPrefix, { names: [], what: 'new EtcdLock()' });
  }

  /** The etcd key used for `key` (for debugging, or for other programs speaking the protocol). */
  keyFor(key: string): string {
    return `${this.prefix}${key}`;
  }

  protected async acquireOnce(name: string, token: string, ttl: number): Promise<AcquireAttempt> {
    const key = lockKey(this.prefix, name);
    const startedAt = this.clock.now();
    for (let attempt = 0; ; attempt++) {
      const lease = await this.pool.use(ttl);
      const entry = newEntry(name, key, token, lease);
      const aliveUntil = this.leaseAliveUntil(lease, startedAt, ttl);
      let response;
      try {
        response = await this.client.kv.txn({
          compare: [createRevisionIs(key, 0n)],
          success: [putOp(key, token, lease.id)],
          failure: [getOp(key)],
        });
      } catch (error) {
        this.pool.unuse(lease);
        if (isLeaseNotFound(error) && attempt === 0) {
          // Our pooled lease ended without us hearing of it (e.g. a long pause): once more on a new one.
          this.pool.markLost(lease, error);
          continue;
        }
        if (isTransientEtcdError(error)) this.#deleteOrphan(key, token);
        throw error;
      }
      const existing = rangeKvs(response, 0)[0];
      if (response.succeeded) entry.rev = headerRevision(response);
      // The client retried a txn whose first attempt had been applied: the key holds our token.
      else if (existing !== undefined && existing.value.toString('utf8') === token) entry.rev = BigInt(existing.create_revision);
      else {
        this.pool.unuse(lease);
        return { acquired: false, retryAfter: -1 };
      }
      entry.state = 'held';
      this.track(entry);
      let until: number;
      try {
        until = await aliveUntil;
      } catch (error) {
        await this.removeEntry(entry);
        throw error;
      }
      return { acquired: true, fencingToken: entry.rev, data: entry, validFrom: Math.min(startedAt, until - ttl) };
    }
  }

  /**
   * A txn that failed in transit may still have been applied, leaving a key nobody holds (kept
   * alive with our shared lease). Delete it if it carries this attempt's token; best effort.
   */
  #deleteOrphan(key: Buffer, token: string): void {
    const attempt = (n: number): void => {
      this.client.kv.txn({ compare: [valueIs(key, token)], success: [deleteOp(key)] }).catch(() => {
        if (n < 5 && !this.closed) setTimeout(() => attempt(n + 1), 200 * 2 ** n).unref();
      });
    };
    attempt(0);
  }

  protected async inspectOnce(name: string): Promise<LockInfo | null> {
    const response = await this.client.kv.range({ key: lockKey(this.prefix, name) });
    const kv = response.kvs[0];
    if (kv === undefined) return null;
    return {
      key: name,
      holder: kv.value.toString('utf8').slice(0, 8),
      ttlRemaining: await this.leaseTtlMs(kv.lease),
      fencingToken: BigInt(kv.create_revision),
    };
  }

  /** Wakes this instance's waiters when the key is deleted (released, expired or revoked). */
  protected override async watchReleases(name: string): Promise<void> {
    const watch = new DeleteWatch(this.client, lockKey(this.prefix, name), undefined, () => this.notifyReleased(name));
    this.#releaseWatches.get(name)?.cancel();
    this.#releaseWatches.set(name, watch);
    // Until the watch is confirmed, waiters fall back to polling every maxRetryDelay.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([watch.ready, new Promise<void>((resolve) => (timer = setTimeout(resolve, this.callTimeout)))]);
    clearTimeout(timer);
  }

  protected override unwatchReleases(name: string): void {
    this.#releaseWatches.get(name)?.cancel();
    this.#releaseWatches.delete(name);
  }

  protected override async closeBackend(): Promise<void> {
    for (const watch of this.#releaseWatches.values()) watch.cancel();
    this.#releaseWatches.clear();
    await super.closeBackend();
  }
}
