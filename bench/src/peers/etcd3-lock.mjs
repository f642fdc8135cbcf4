// The etcd3 client's built-in lock: per acquire a fresh lease (grant, kept alive), a txn
// put-if-absent, and on release a lease revoke. It does not wait: a taken key fails at once with
// EtcdLockFailedError, so the bench retries after <ms> x (0.5..1.5) ('retry:<ms>', default 10).
import { Etcd3, EtcdLockFailedError } from 'etcd3';
import { retryMs, sleep } from './variant.mjs';

export async function etcd3Lock({ env, variant }) {
  const client = new Etcd3({ hosts: env.etcdEndpoint });
  const ms = retryMs(variant) ?? 10;
  let closed = false; // set by giveUp() (the window is over) and close()
  return {
    async acquire(key, ttl) {
      for (;;) {
        const lock = client.lock(key).ttl(Math.max(2, Math.ceil(ttl / 1000)));
        try {
          await lock.acquire();
          return () => lock.release();
        } catch (error) {
          if (closed || !(error instanceof EtcdLockFailedError)) throw error;
        }
        await sleep(ms * (0.5 + Math.random()));
      }
    },
    giveUp() {
      closed = true;
    },
    async close() {
      closed = true;
      client.close();
    },
  };
}
