import type { Claim } from '../engine/driver.js';

/**
 * Who may hold a key together, as every backend decides it (the memory store here; Redis and
 * etcd scripts and recipes follow the same rule). A key's holders and the callers queued before
 * a request form its *group*; the request is admitted when it fits the group:
 *
 * - `exclusive` fits only an empty group (no holder, nobody queued before it);
 * - `shared` fits a group of `shared` claims only: readers join readers, but a writer that holds
 *   or waits before them holds them back (writer-preferring);
 * - `permits` fits a group of `permits` claims whose permits plus its own stay within `limit`:
 *   callers queued before it count as if they held, so a large request is never overtaken by a
 *   later small one.
 *
 * A single attempt (`tryLock()`) is judged as if queued last. Mixed kinds on one key (a read
 * claim and a permit) never fit together.
 */
export class Admission {
  #count = 0;
  #shared = 0;
  #permits = 0;
  #used = 0;

  /** Adds a holder's or an earlier waiter's claim to the group. */
  add(claim: Claim): void {
    this.#count += 1;
    if (claim.kind === 'shared') this.#shared += 1;
    else if (claim.kind === 'permits') {
      this.#permits += 1;
      this.#used += claim.permits;
    }
  }

  /** Whether `claim` may be admitted with the group. */
  fits(claim: Claim): boolean {
    if (claim.kind === 'exclusive') return this.#count === 0;
    if (claim.kind === 'shared') return this.#shared === this.#count;
    return this.#permits === this.#count && this.#used + claim.permits <= claim.limit;
  }
}
