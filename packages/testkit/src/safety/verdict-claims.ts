// The checks of primitives whose holders may share a key (read-write locks, semaphores): who may
// hold together is `admits` (claims.ts), on the same confirmed intervals as the mutex's checks.
import { admits } from './claims.js';
import { byKey, confirmedIntervals, sweep, type Interval } from './intervals.js';
import type { Conflict } from './verdict.js';
import type { Acquisition, Claim, WriteRecord } from './types.js';

/** The holders among `holding` that `next` cannot share with (all of them when it is their sum that does not fit). */
function culprits(holding: readonly Interval[], next: Acquisition): Acquisition[] {
  const each = holding.filter((h) => !admits([h.acq], next)).map((h) => h.acq);
  return each.length > 0 ? each : holding.map((h) => h.acq);
}

/**
 * Acquisitions granted while confirmed holders of their key held claims they cannot be held
 * with: a writer with anyone, a reader with a writer, permits past the limit. Each comes with
 * those holders.
 */
export function findClaimConflicts(acquisitions: readonly Acquisition[]): Conflict[] {
  const conflicts: Conflict[] = [];
  for (const group of byKey(acquisitions).values()) {
    for (const { interval, holding } of sweep(confirmedIntervals(group))) conflicts.push({ acq: interval.acq, holders: culprits(holding, interval.acq) });
  }
  return conflicts;
}

/** Released by an owner-checked release that succeeded, with no loss reported: it held from its grant through its release intent. */
function releasedUnnoticed(a: Acquisition): boolean {
  return a.outcome === 'released' && !a.lossReported && a.releaseIntentAt !== undefined;
}

/**
 * Holders whose release succeeded, with no loss reported, although a confirmed holder their
 * claim excludes was granted between their grant and their release intent: a successful
 * owner-checked release proves its holder held all along, so both held at once and the first
 * never heard of it. Pairs are `[holder, newcomer]`; clashes already seen on confirmed validity
 * (conflicts) are not repeated.
 */
export function findClaimLostUnnoticed(acquisitions: readonly Acquisition[]): Array<[Acquisition, Acquisition]> {
  const pairs: Array<[Acquisition, Acquisition]> = [];
  const confirmedAt = (h: Interval, at: number): boolean => h.acq.validThrough !== undefined && h.acq.validThrough > at;
  for (const group of byKey(acquisitions).values()) {
    const proven: Interval[] = [];
    for (const a of group) {
      const end = releasedUnnoticed(a) ? Math.max(a.validThrough ?? a.grantedAt, a.releaseIntentAt ?? a.grantedAt) : a.validThrough;
      if (end !== undefined) proven.push({ acq: a, start: a.grantedAt, end });
    }
    proven.sort((x, y) => x.start - y.start);
    for (const { interval, holding } of sweep(proven)) {
      const next = interval.acq;
      if (next.validThrough === undefined) continue; // only a confirmed newcomer, as for the mutex
      const confirmed = holding.filter((h) => confirmedAt(h, interval.start));
      if (!admits(confirmed.map((h) => h.acq), next)) continue; // a conflict on confirmed validity
      for (const h of holding) if (!confirmedAt(h, interval.start)) pairs.push([h.acq, next]);
    }
  }
  return pairs;
}

/**
 * Writes (and reads, and registrations) the resource accepted from a holder it had dropped or
 * that had left, or that made the holders it kept exceed what their claims admit. Replays the
 * log of a {@link ClaimResource}; a fenced resource with strictly increasing tokens can never
 * accept one.
 */
export function findClaimStaleAccepted(writes: readonly WriteRecord[]): WriteRecord[] {
  const stale: WriteRecord[] = [];
  for (const group of byKey(writes).values()) {
    const live = new Map<string, Claim>();
    const gone = new Set<string>();
    for (const w of group) {
      if (w.kind === 'leave' || w.kind === 'evict') {
        live.delete(w.acq);
        gone.add(w.acq);
      } else if (w.kind === 'register') {
        if (!w.accepted) gone.add(w.acq);
        else {
          if (gone.has(w.acq) || !admits([...live.values()], w.claim ?? {})) stale.push(w);
          live.set(w.acq, w.claim ?? {});
        }
      } else if (w.accepted && !live.has(w.acq)) stale.push(w);
    }
  }
  return stale;
}
