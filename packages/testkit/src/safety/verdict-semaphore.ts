// The semaphore's verdict: at any instant the confirmed holders' permits on a key sum to at most
// its limit, and tokens rise in grant order.
import { findOrderInversions } from './intervals.js';
import { findClaimConflicts, findClaimLostUnnoticed, findClaimStaleAccepted } from './verdict-claims.js';
import type { PrimitiveChecks } from './verdict.js';

/**
 * A semaphore's checks (judge's third argument). Holders share a key, so the start order of
 * their intervals says nothing about their tokens; only a holder registered before another
 * called `acquire()` was surely granted first.
 */
export const semaphoreChecks: PrimitiveChecks = Object.freeze({
  conflicts: findClaimConflicts,
  inversions: findOrderInversions,
  staleAccepted: findClaimStaleAccepted,
  lostUnnoticed: findClaimLostUnnoticed,
  say: Object.freeze({
    conflicts: (n: number) => `${n} acquisitions took permits while the confirmed holders' permits left too few (more than the limit held at once)`,
    inversions: (n: number) => `${n} holders got a fencing token not above that of a holder granted before they called acquire()`,
    lostUnnoticed: (n: number) => `${n} holders lost their permits without their signal or release noticing`,
  }),
});
