import { SemaphoreEngine } from '@dlock/core';
import type { IOptions } from 'etcd3';
import type { EtcdClient } from '../client.js';
import type { KeyEntry } from '../entry.js';
import { etcdOptionNames, type EtcdLockOptions } from '../options.js';
import { EtcdClaimDriver } from './claim-driver.js';

/** The prefix of an `EtcdSemaphore` unless one is given. */
export const defaultSemaphorePrefix = 'dlock/semaphore/';

/**
 * A counting semaphore on etcd: at most `limit` permits of a key held at once across every
 * instance, FIFO (a request for several permits is not overtaken by later small ones). Each
 * acquisition is one key `<prefix><key>/<lease hex>-<id>` on the instance's shared kept-alive
 * lease whose value records its permits and limit; keys are ordered by create revision and a key
 * holds once the permits of every older key plus its own fit within `limit`. A waiter watches
 * only the key just before it (which marks its own admission), the first waiter the deletions
 * under the key: a release wakes one waiter, and each admitted one wakes the next. Callers of a
 * key with another limit than its holders' and waiters' get `SemaphoreLimitMismatchError`. The
 * fencing token is the key's create revision.
 *
 * @example
 * ```ts
 * import { EtcdSemaphore } from '@dlock/etcd';
 *
 * const sem = new EtcdSemaphore({ hosts: 'http://127.0.0.1:2379' });
 * await using permit = await sem.acquire('exports', { limit: 4, ttl: 30_000 });
 * ```
 */
export class EtcdSemaphore extends SemaphoreEngine<KeyEntry> {
  /** The client requests go through (yours, or the one created from your options). */
  readonly client: EtcdClient;
  /** See {@link EtcdLockOptions.prefix}; defaults to `dlock/semaphore/`. */
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
    const driver = new EtcdClaimDriver(client, options, ['permits'], defaultSemaphorePrefix);
    super(driver, options, { names: etcdOptionNames, what: 'new EtcdSemaphore()' });
    this.#driver = driver;
    this.client = driver.session.client;
    this.prefix = driver.session.prefix;
    this.callTimeout = driver.session.callTimeout;
  }

  /** The directory holding the permit keys of `key`: `<prefix><key>/`. */
  directoryFor(key: string): string {
    return this.#driver.directory(key).toString('utf8');
  }
}
