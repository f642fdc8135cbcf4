import { ElectionEngine } from '@dlock/core';
import type { IOptions } from 'etcd3';
import type { EtcdClient } from '../client.js';
import type { KeyEntry } from '../entry.js';
import { etcdOptionNames, type EtcdLockOptions } from '../options.js';
import { EtcdElectionDriver } from './election-driver.js';

/**
 * Options of {@link EtcdElection}: those of `EtcdLockOptions` (`prefix` defaults to
 * `'dlock/election/'`; `prefix: ''` makes `campaign('jobs')` take part in `etcdctl elect jobs`).
 */
export type EtcdElectionOptions = EtcdLockOptions;

/**
 * Leader election on etcd with the protocol and key layout of etcd's Go `concurrency.Election`,
 * so Go services, `etcdctl elect` and dlock take part in the same elections.
 *
 * Each candidate puts `<prefix><name>/<lease id hex>` with its value (on the instance's shared
 * lease for that TTL, as Go's `Session`); the oldest key (lowest create revision) leads, and its
 * create revision is the term. A candidate watches only the key just older than its own, so a
 * resign wakes exactly one candidate. `proclaim` puts a new value guarded by the create revision;
 * `observe` watches the directory and reports every change. A leader whose lease is revoked or
 * expires is reported lost through `signal`; one that stops renewing is replaced after its TTL.
 *
 * @example
 * ```ts
 * import { EtcdElection } from '@dlock/etcd';
 *
 * const election = new EtcdElection({ hosts: 'http://127.0.0.1:2379' }, { prefix: '' });
 * await using leadership = await election.campaign('scheduler', 'pod-a'); // etcdctl elect scheduler
 * await schedule({ fence: leadership.term, signal: leadership.signal });
 * ```
 */
export class EtcdElection extends ElectionEngine<KeyEntry> {
  /** The client requests go through (yours, or the one created from your options). */
  readonly client: EtcdClient;
  /** See `EtcdLockOptions.prefix`. */
  readonly prefix: string;
  readonly #driver: EtcdElectionDriver;

  /**
   * @param client an etcd3 `Etcd3` client (not closed by `close()`), or etcd3 `IOptions` to
   *   create one (closed by `close()`).
   * @param options prefix, timeouts, default TTL.
   */
  constructor(client: EtcdClient | IOptions, options: EtcdElectionOptions = {}) {
    const driver = new EtcdElectionDriver(client, options);
    super(driver, options, { names: etcdOptionNames, what: 'new EtcdElection()' });
    this.#driver = driver;
    this.client = driver.session.client;
    this.prefix = driver.session.prefix;
  }

  /** The directory of election `name` (`etcdctl elect` takes it without the trailing `/`). */
  directoryFor(name: string): string {
    return this.#driver.directory(name).toString('utf8');
  }
}
