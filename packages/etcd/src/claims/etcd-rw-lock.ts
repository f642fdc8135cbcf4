import { ReadWriteLockEngine } from '@dlock/core';
import type { IOptions } from 'etcd3';
import type { EtcdClient } from '../client.js';
import type { KeyEntry } from '../entry.js';
import { etcdOptionNames, type EtcdLockOptions } from '../options.js';
import { EtcdClaimDriver } from './claim-driver.js';

/** The prefix of an `EtcdReadWriteLock` unless one is given. */
export const defaultRWLockPrefix = 'dlock/rw/';

/**
 * A read-write lock on etcd: many readers or one writer per key, writer-preferring FIFO across
 * every instance, herd-free. Each reader and writer is one key `<prefix><key>/<lease hex>-<id>`
 * on the instance's shared kept-alive lease, its value recording the claim; keys are ordered by
 * create revision, as in etcd's Go recipes. A reader enters when no writer key is older than its
 * own and otherwise watches only the newest such writer; a writer enters when its key is the
 * oldest and otherwise watches only the key just before it. The fencing token is the key's
 * create revision, so it increases across readers and writers.
 *
 * @example
 * ```ts
 * import { EtcdReadWriteLock } from '@dlock/etcd';
 *
 * const rw = new EtcdReadWriteLock({ hosts: 'http://127.0.0.1:2379' });
 * await using reading = await rw.readLock('catalog', { ttl: 10_000 });
 * ```
 */
export class EtcdReadWriteLock extends ReadWriteLockEngine<KeyEntry> {
  /** The client requests go through (yours, or the one created from your options). */
  readonly client: EtcdClient;
  /** See {@link EtcdLockOptions.prefix}; defaults to `dlock/rw/`. */
  readonly prefix: string;
  /** See {@link EtcdLockOptions.callTimeout}. */
  readonly callTimeout: number;
  readonly #driver: EtcdClaimDriver;

  /**
   * @param client an etcd3 `Etcd3` client (not closed by `close()`), or etcd3 `IOptions` to
   *   create one (closed by `close()`).
   * @param options prefix, timeouts, default TTL; see {@link EtcdLockOptions}.
   */
  constructor(client: EtcdClient | IOptions, options: EtcdLockOptions = {}) {
    const driver = new EtcdClaimDriver(client, options, ['exclusive', 'shared'], defaultRWLockPrefix);
    super(driver, options, { names: etcdOptionNames, what: 'new EtcdReadWriteLock()' });
    this.#driver = driver;
    this.client = driver.session.client;
    this.prefix = driver.session.prefix;
    this.callTimeout = driver.session.callTimeout;
  }

  /** The directory holding the readers' and writers' keys of `key`: `<prefix><key>/`. */
  directoryFor(key: string): string {
    return this.#driver.directory(key).toString('utf8');
  }
}
