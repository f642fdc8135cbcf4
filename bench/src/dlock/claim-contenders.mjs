// The contender shapes of dlock's semaphores and read-write locks, whatever their backend: each
// acquisition one permit of `limit`, or a write lock (acquire) and a read lock (acquireRead).

/** A semaphore as a contender; `close` closes it and what it was built on. */
export function semaphoreContender(sem, limit, close) {
  return {
    async acquire(key, ttl) {
      const permit = await sem.acquire(key, { limit, ttl });
      return () => permit.release();
    },
    close,
  };
}

/** A read-write lock as a contender; `close` closes it and what it was built on. */
export function rwContender(rw, close) {
  return {
    async acquire(key, ttl) {
      const write = await rw.writeLock(key, { ttl });
      return () => write.release();
    },
    async acquireRead(key, ttl) {
      const read = await rw.readLock(key, { ttl });
      return () => read.release();
    },
    close,
  };
}
