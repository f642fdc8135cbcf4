import type { EtcdLock } from './etcd-lock.js';
import type { EtcdMutex } from './etcd-mutex.js';

export { EtcdMutex } from './etcd-mutex.js';
export { EtcdLock } from './etcd-lock.js';
export type { KeyEntry } from './entry.js';
export { defaultEtcdLockOptions, type EtcdLockOptions, type EtcdMutexOptions } from './options.js';
export {
  defaultEtcdClientTuning,
  etcdClientOptions,
  isEtcdClient,
  type EtcdClient,
  type EtcdClientTuning,
} from './client.js';
export { EtcdLeaseLostError, isPermanentEtcdError, isTransientEtcdError } from './errors.js';
export type { PooledLease } from './lease-pool.js';

/**
 * Either etcd lock: what `EtcdLock` and `EtcdMutex` share (client, prefix, callTimeout and the
 * whole lock API). Both are now engines over a driver; this name stays for type annotations.
 * @deprecated use `EtcdLock | EtcdMutex`, or `LockEngine<KeyEntry>` for code generic over both.
 *
 * @example
 * ```ts
 * function makeLock(fair: boolean, client: Etcd3): EtcdLockBase {
 *   return fair ? new EtcdMutex(client) : new EtcdLock(client);
 * }
 * ```
 */
export type EtcdLockBase = EtcdLock | EtcdMutex;
export { EtcdElection, type EtcdElectionOptions } from './election/etcd-election.js';
export { EtcdReadWriteLock, defaultRWLockPrefix } from './claims/etcd-rw-lock.js';
export { EtcdSemaphore, defaultSemaphorePrefix } from './claims/etcd-semaphore.js';
