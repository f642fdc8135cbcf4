// Which claims on one key may be held at once: the one rule that both the resource of shared
// claims and the verdicts of the read-write lock and the semaphore judge by.
import type { Claim } from './types.js';

/**
 * Whether `next` may be held together with all of `holding` (claims on one key): readers with
 * readers only, a writer alone, permits while their sum stays within the limit, a mutex or a
 * leadership (no mode, no permits) alone.
 */
export function admits(holding: readonly Claim[], next: Claim): boolean {
  if (next.mode === 'read') return holding.every((claim) => claim.mode === 'read');
  if (next.permits !== undefined) {
    const limit = next.limit ?? 1;
    let used = next.permits;
    for (const claim of holding) {
      if (claim.permits === undefined) return false; // a different primitive on the key: nothing is shared
      used += claim.permits;
    }
    return used <= limit;
  }
  return holding.length === 0;
}

/** `read`, `write`, `2/3 permits`, or nothing for a mutex or a leadership: for messages. */
export function describeClaim(claim: Claim): string | undefined {
  if (claim.mode !== undefined) return claim.mode;
  if (claim.permits !== undefined) return `${claim.permits}/${claim.limit ?? '?'} permits`;
  return undefined;
}

/** The claim fields of `claim` alone (what a resource's register record keeps). */
export function claimOf(claim: Claim): Claim {
  return {
    ...(claim.mode === undefined ? {} : { mode: claim.mode }),
    ...(claim.permits === undefined ? {} : { permits: claim.permits, limit: claim.limit }),
  };
}
