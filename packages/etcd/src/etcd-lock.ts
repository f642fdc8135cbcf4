import { LockEngine } from '@dlock/core';
import type { IOptions } from 'etcd3';
import type { EtcdClient } from './client.js';
import type { KeyEntry } from './entry.js';
import { EtcdLockDriver } from './lock-driver.js';
import { etcdOptionNames, type EtcdLockOptions } from './options.js';

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
export class EtcdLock extends LockEngine<KeyEntry> {
  /** The client requests go through (yours, or the one created from your options). */
  readonly client: EtcdClient;
  /** See {@link EtcdLockOptions.prefix}. */
  readonly prefix: string;
  /** See {@link EtcdLockOptions.callTimeout}. */
  readonly callTimeout: number;

  /**
   * @param client an etcd3 `Etcd3` client (not closed by `close()`), or etcd3 `IOptions` to
   *   create one (closed by `close()`).
   * @param options prefix, timeouts, default TTL; see {@link EtcdLockOptions}.
   */
  constructor(client: EtcdClient | IOptions, options: EtcdLockOptions = {}) {
    const driver = new EtcdLockDriver(client, options);
    super(driver, options, { names: etcdOptionNames, what: 'new EtcdLock()' });
    const { session } = driver;
    this.client = session.client;
    this.prefix = session.prefix;
    this.callTimeout = session.callTimeout;
  }

  /** The etcd key used for `key` (for debugging, or for other programs speaking the protocol). */
  keyFor(key: string): string {
    return `${this.prefix}${key}`;
  }
}
