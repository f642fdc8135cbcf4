import type { PooledLease } from './lease-pool.js';

/**
 * One key this lock instance put in etcd: an `EtcdMutex` queue entry (waiting or holding) or an
 * `EtcdLock` key (holding). It is the `data` of the handle once the lock is held.
 */
export interface KeyEntry {
  /** The lock name as the caller passed it. */
  readonly name: string;
  /** The etcd key. */
  readonly key: Buffer;
  readonly token: string;
  /** The lease carrying the key (changes when a renew moves it to a lease of another TTL). */
  lease: PooledLease;
  /** The key's create revision: the fencing token. `0n` until the put is confirmed. */
  rev: bigint;
  /**
   * `queued`: waiting for the keys ahead. `held`: the lock is ours. `releasing`: our delete is
   * under way. `done`: gone for good (released, lost, given up); events are ignored.
   */
  state: 'queued' | 'held' | 'releasing' | 'done';
  /** Set when the key or its lease is gone while queued: the waiter rejects with it. */
  lost: Error | undefined;
  /** Wakes the waiter of a queued entry so it re-reads the queue. */
  wake: (() => void) | undefined;
  /** Runs once when the entry is done (EtcdMutex: frees the name's local queue slot). */
  onDone: (() => void) | undefined;
  /** Set once everything was freed (lease use given back, `onDone` run). */
  finished: boolean;
}

export function newEntry(name: string, key: Buffer, token: string, lease: PooledLease, onDone?: () => void): KeyEntry {
  return {
    name,
    key,
    token,
    lease,
    rev: 0n,
    state: 'queued',
    lost: undefined,
    wake: undefined,
    onDone,
    finished: false,
  };
}
