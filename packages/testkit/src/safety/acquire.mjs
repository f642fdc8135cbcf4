// How a safety worker acquires from each primitive (plain Node, as worker.mjs). An acquirer is
// `(lock, key, options, candidate) => Promise<{ handle, claim }>`: `options` are `{ ttl,
// waitTimeout, signal }`, `candidate` the value a worker campaigns with, `handle` the library's
// handle (a leadership for an election: its `fencingToken` is the term), `claim` what it holds
// of the key besides the key (mode, or permits and limit).

const pick = (max) => 1 + Math.floor(Math.random() * max);

/**
 * The acquirer for `primitive` (`mutex`, `rw`, `semaphore`, `election`) with the row's
 * `workload` (reads: share of read locks; limit and maxPermits of a semaphore).
 */
export function acquirer(primitive, workload = {}) {
  switch (primitive ?? 'mutex') {
    case 'mutex':
      return async (lock, key, options) => ({ handle: await lock.lock(key, options), claim: {} });
    case 'rw':
      return async (lock, key, options) => {
        const mode = Math.random() < (workload.reads ?? 0.7) ? 'read' : 'write';
        const handle = await (mode === 'read' ? lock.readLock(key, options) : lock.writeLock(key, options));
        return { handle, claim: { mode } };
      };
    case 'semaphore':
      return async (lock, key, options) => {
        const limit = workload.limit ?? 3;
        const permits = pick(Math.min(workload.maxPermits ?? 2, limit));
        return { handle: await lock.acquire(key, { ...options, limit, permits }), claim: { permits, limit } };
      };
    case 'election':
      // The worker renews (or, lapsing, does not) with election.autoRenew(), as for the others.
      return async (lock, key, options, candidate) => ({ handle: await lock.campaign(key, candidate, { ...options, autoRenew: false }), claim: {} });
    default:
      throw new Error(`safety worker: no acquirer for primitive ${primitive}`);
  }
}
