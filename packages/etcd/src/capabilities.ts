import type { LockCapabilities } from '@dlock/core';

/** etcd's smallest lease TTL with default settings: ceil(1.5 × 1 s election timeout) = 2 s. */
const ETCD_MIN_TTL_MS = 2_000;

/**
 * What both etcd locks offer. etcd leases count whole seconds and have a minimum TTL (2 s with
 * etcd's default election timeout). A held lock still expires after exactly its `ttl` on this
 * side (its key is then deleted); only a crashed holder's key lives until the lease's rounded-up
 * TTL ends.
 */
export const etcdCapabilities: LockCapabilities = Object.freeze({
  ttlGranularityMs: 1_000,
  minTtlMs: ETCD_MIN_TTL_MS,
  fencing: 'strict',
});
