export { EtcdMutex } from './etcd-mutex.js';
export { EtcdLock } from './etcd-lock.js';
export { EtcdLockBase } from './etcd-base.js';
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
