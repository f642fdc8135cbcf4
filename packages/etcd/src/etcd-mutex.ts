import { LockEngine, validateCount } from '@dlock/core';
import type { IOptions } from 'etcd3';
import type { EtcdClient } from './client.js';
import type { KeyEntry } from './entry.js';
import { EtcdMutexDriver } from './mutex-driver.js';
import { defaultEtcdLockOptions, etcdOptionNames, type EtcdMutexOptions } from './options.js';

/**
 * A fair, herd-free etcd lock with the protocol and key layout of etcd's Go
 * `concurrency.Mutex`, so Go services and `etcdctl lock` contend with it correctly.
 *
 * Each contender puts `<prefix><key>/<lease id hex>` (one txn that also reads the queue head)
 * and holds the lock when its key has the lowest create revision under `<prefix><key>/`.
 * Otherwise it watches only the entry just ahead of it; when that one is deleted it reads the
 * queue again (the entry ahead may have given up while an older one still holds), and it
 * confirms its own key still exists. A release therefore wakes exactly one waiter, whatever the
 * number waiting. The fencing token is the create revision of our key, so it increases with
 * every holder, including Go and `etcdctl` holders.
 *
 * Keys are carried by one kept-alive lease per (instance, TTL in seconds), as Go's `Session`
 * does, and named after it: `<lease hex>` for the instance's first caller of a name, `<lease
 * hex>-<n>` for further callers queued at the same time, up to `maxQueuedPerName`; callers beyond
 * that wait locally (first come, first served) for one of those slots. Several entries per
 * instance keep the next caller's put off the hand-off path: when the holder deletes its key,
 * the next entry is already in etcd and only has to confirm it is first.
 *
 * A queued waiter whose lease is revoked or expires, or whose key is deleted, rejects at once
 * with {@link EtcdLeaseLostError}; a holder's `handle.signal` aborts with `LockLostError`.
 *
 * @example
 * ```ts
 * import { EtcdMutex } from '@dlock/etcd';
 *
 * // prefix '' makes `lock('deploy')` contend with `etcdctl lock deploy`.
 * const mutex = new EtcdMutex({ hosts: 'http://127.0.0.1:2379' }, { prefix: '' });
 * await using handle = await mutex.lock('deploy', { ttl: 15_000, waitTimeout: 60_000 });
 * await deploy({ fence: handle.fencingToken });
 * ```
 */
export class EtcdMutex extends LockEngine<KeyEntry> {
  /** The client requests go through (yours, or the one created from your options). */
  readonly client: EtcdClient;
  /** See {@link EtcdMutexOptions.prefix}. */
  readonly prefix: string;
  /** See {@link EtcdMutexOptions.callTimeout}. */
  readonly callTimeout: number;
  /** See {@link EtcdMutexOptions.maxQueuedPerName}. */
  readonly maxQueuedPerName: number;

  /**
   * @param client an etcd3 `Etcd3` client (not closed by `close()`), or etcd3 `IOptions` to
   *   create one (closed by `close()`).
   * @param options prefix, timeouts, default TTL, queue depth; see {@link EtcdMutexOptions}.
   */
  constructor(client: EtcdClient | IOptions, options: EtcdMutexOptions = {}) {
    const depth = queueDepth(options);
    const driver = new EtcdMutexDriver(client, options, depth);
    super(driver, options, { names: [...etcdOptionNames, 'maxQueuedPerName'], what: 'new EtcdMutex()' });
    const { session } = driver;
    this.client = session.client;
    this.prefix = session.prefix;
    this.callTimeout = session.callTimeout;
    this.maxQueuedPerName = depth;
  }

  /** The queue directory of `key` (what `etcdctl lock <name>` takes as `<name>` is this without the `/`). */
  queuePrefixFor(key: string): string {
    return `${this.prefix}${key}/`;
  }
}

function queueDepth(options: EtcdMutexOptions): number {
  const depth = (options as EtcdMutexOptions | null | undefined)?.maxQueuedPerName ?? defaultEtcdLockOptions.maxQueuedPerName;
  return validateCount(depth, 'maxQueuedPerName', 1);
}
