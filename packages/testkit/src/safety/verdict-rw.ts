// The read-write lock's verdict: no writer's confirmed validity overlaps any other holder's
// (reader or writer) on its key, readers may overlap each other, and tokens rise in grant order.
import { byKey, confirmedIntervals, findOrderInversions, oncePerLater } from './intervals.js';
import type { Acquisition } from './types.js';
import { findClaimConflicts, findClaimLostUnnoticed, findClaimStaleAccepted } from './verdict-claims.js';
import type { PrimitiveChecks } from './verdict.js';

/**
 * Confirmed holders whose fencing token is not above that of an earlier confirmed holder (by
 * grant) they exclude: a writer's must be above everyone's before it, a reader's above every
 * writer's before it. Between intervals that do not overlap this means a hidden overlap or a
 * newer holder with an older token. Two readers may register in either order.
 */
export function findRWFenceInversions(acquisitions: readonly Acquisition[]): Array<[Acquisition, Acquisition]> {
  const pairs: Array<[Acquisition, Acquisition]> = [];
  for (const group of byKey(acquisitions).values()) {
    let top: Acquisition | undefined; // highest token so far, any mode
    let topWriter: Acquisition | undefined;
    for (const { acq } of confirmedIntervals(group)) {
      const bound = acq.mode === 'read' ? topWriter : top;
      if (bound !== undefined && acq.fence <= bound.fence) pairs.push([bound, acq]);
      if (top === undefined || acq.fence > top.fence) top = acq;
      if (acq.mode !== 'read' && (topWriter === undefined || acq.fence > topWriter.fence)) topWriter = acq;
    }
  }
  return pairs;
}

/** A read-write lock's checks (judge's third argument). */
export const rwChecks: PrimitiveChecks = Object.freeze({
  conflicts: findClaimConflicts,
  inversions: (acquisitions: readonly Acquisition[]) => oncePerLater([...findRWFenceInversions(acquisitions), ...findOrderInversions(acquisitions)]),
  staleAccepted: findClaimStaleAccepted,
  lostUnnoticed: findClaimLostUnnoticed,
  say: Object.freeze({
    conflicts: (n: number) => `${n} acquisitions overlapped a holder they exclude (a writer and anyone, a reader and a writer)`,
    inversions: (n: number) => `${n} holders got a fencing token not above that of a holder granted before them`,
    lostUnnoticed: (n: number) => `${n} holders lost their read or write lock to a holder they exclude without their signal or release noticing`,
  }),
});
