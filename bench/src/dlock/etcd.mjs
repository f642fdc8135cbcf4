// dlock's etcd backend as a bench contender: EtcdMutex (the fair revision queue, the default) or,
// with variant 'lock', EtcdLock (lease + txn, waits by retrying). Both create their own etcd3
// client from options, with dlock's fault-handling tuning.

export async function makeEtcdLock(endpoint, variant, options = {}) {
  const { EtcdMutex, EtcdLock } = await import('@dlock/etcd');
  const Lock = variant === 'lock' ? EtcdLock : EtcdMutex;
  return new Lock({ hosts: endpoint }, options);
}

export async function dlockEtcd({ env, variant }) {
  const lock = await makeEtcdLock(env.etcdEndpoint, variant);
  return {
    async acquire(key, ttl) {
      const handle = await lock.lock(key, { ttl });
      return () => handle.release();
    },
    close: () => lock.close(),
  };
}
