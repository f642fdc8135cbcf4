/**
 * How lock names map to etcd keys.
 *
 * `EtcdLock`: one key, `<prefix><name>`, whose value is the holder's token.
 *
 * `EtcdMutex`: the layout of etcd's Go `concurrency.Mutex` (and so of `etcdctl lock`): every
 * contender puts `<prefix><name>/<lease id in lowercase hex>` (`…-<n>` for an instance's further
 * callers queued at once) and the key with the lowest create revision under `<prefix><name>/`
 * holds the lock. `etcdctl lock jobs` therefore queues under
 * `jobs/`, the same as `new EtcdMutex(client, { prefix: '' }).lock('jobs')`.
 */

/** The etcd key of an `EtcdLock`. */
export function lockKey(prefix: string, name: string): Buffer {
  return Buffer.from(`${prefix}${name}`, 'utf8');
}

/** The queue directory (`<prefix><name>/`) of an `EtcdMutex` name. */
export function mutexPrefix(prefix: string, name: string): Buffer {
  return Buffer.from(`${prefix}${name}/`, 'utf8');
}

/**
 * The queue key of one contender: `<queue directory><lease id hex>` for an instance's first
 * queued caller of a name, as Go's Mutex forms it; `<queue directory><lease id hex>-<slot>` for
 * its further callers queued at the same time (Go orders entries by create revision only, never
 * by name, so it treats them like any other contender).
 */
export function mutexQueueKey(queuePrefix: Buffer, leaseHex: string, slot = 0): Buffer {
  return Buffer.concat([queuePrefix, Buffer.from(slot === 0 ? leaseHex : `${leaseHex}-${slot}`, 'latin1')]);
}

/** An etcd lease id (a decimal int64 string, as etcd3 returns it) in lowercase hex (Go's `%x`). */
export function leaseHex(id: string): string {
  return BigInt(id).toString(16);
}

/** The exclusive end of the key range that has `prefix` as a prefix (etcd's `WithPrefix`). */
export function prefixRangeEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  // All 0xff: every key from `prefix` on (etcd's "\0" range end).
  return Buffer.from([0]);
}

const SLASH = 0x2f;

/**
 * Whether `key` is a direct entry of the queue directory `queuePrefix` (`<dir>x`), not one of a
 * lock whose name extends ours (`<dir>sub/x`, the queue of `<name>/sub`). Go's Mutex counts both,
 * which only makes it wait longer; ignoring the nested ones keeps `a` and `a/b` independent for us.
 */
export function isQueueEntry(queuePrefix: Buffer, key: Buffer): boolean {
  if (key.length <= queuePrefix.length || !key.subarray(0, queuePrefix.length).equals(queuePrefix)) return false;
  return key.indexOf(SLASH, queuePrefix.length) === -1;
}

/**
 * The key that marks a lease of ours: `<prefix>\0dlock-lease:<lease hex>`, put with the lease and
 * watched, so a revoked or expired lease is noticed at once (etcd deletes the lease's keys) rather
 * than at the next keep-alive. The NUL byte keeps it clear of lock names people use, and it is
 * not an entry of any `EtcdMutex` queue (no `/` after the prefix).
 */
export function leaseSentinelKey(prefix: string, leaseHex: string): Buffer {
  return Buffer.from(`${prefix}\u0000dlock-lease:${leaseHex}`, 'utf8');
}
