// The election's verdict: at most one confirmed leader per name at any instant, terms strictly
// increasing in grant order, no stale fenced write accepted. A leadership is an exclusive lock on
// the name with the term as its token, so these are the mutex's checks, plus grant order.
import { findOrderInversions, oncePerLater } from './intervals.js';
import type { Acquisition } from './types.js';
import { findFenceInversions, mutexChecks, type PrimitiveChecks } from './verdict.js';

/** An election's checks (judge's third argument). */
export const electionChecks: PrimitiveChecks = Object.freeze({
  ...mutexChecks,
  inversions: (acquisitions: readonly Acquisition[]) => oncePerLater([...findFenceInversions(acquisitions), ...findOrderInversions(acquisitions)]),
  say: Object.freeze({
    conflicts: (n: number) => `${n} leaders were elected while another leader of the name was still confirmed`,
    inversions: (n: number) => `${n} leaders got a term not above that of a leader elected before them`,
    lostUnnoticed: (n: number) => `${n} leaders lost their leadership without their signal or resign noticing`,
  }),
});
