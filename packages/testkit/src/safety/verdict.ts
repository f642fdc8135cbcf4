import { describeClaim } from './claims.js';
import { byKey, confirmedIntervals, firstAfter, sweep } from './intervals.js';
import type { Acquisition, History, Verdict, VerdictPolicy, WriteRecord } from './types.js';

const MAX_EXAMPLES = 5;

/** A holder granted while others it excludes held: `acq`, and who held then. */
export interface Conflict {
  acq: Acquisition;
  holders: Acquisition[];
}

/**
 * What a verdict checks that depends on the primitive, and how its messages read. The mutex's
 * are {@link mutexChecks}; the others are in verdict-rw.ts, verdict-semaphore.ts and
 * verdict-election.ts.
 */
export interface PrimitiveChecks {
  /** Holders granted while others they exclude held, on confirmed validity. */
  conflicts(acquisitions: readonly Acquisition[]): Conflict[];
  /** Fencing tokens not above one they must be above, as `[earlier, later]` (strict fencing only). */
  inversions(acquisitions: readonly Acquisition[]): Array<[Acquisition, Acquisition]>;
  /** Writes the resource accepted although a newer holder had superseded their holder. */
  staleAccepted(writes: readonly WriteRecord[]): WriteRecord[];
  /** Holders whose release succeeded although one they exclude held meanwhile, as `[holder, other]`. */
  lostUnnoticed(acquisitions: readonly Acquisition[]): Array<[Acquisition, Acquisition]>;
  /** The failure lines, given a count. */
  say: {
    conflicts(count: number): string;
    inversions(count: number): string;
    lostUnnoticed(count: number): string;
  };
}

/**
 * Acquisitions whose confirmed validity overlaps an earlier one's on the same key. Both ends
 * are moments the holders surely held the lock, so an overlap is a real one; intervals that
 * only touch (`end === start`) do not overlap.
 */
export function findOverlaps(acquisitions: readonly Acquisition[]): Array<[Acquisition, Acquisition]> {
  const pairs: Array<[Acquisition, Acquisition]> = [];
  for (const group of byKey(acquisitions).values()) {
    for (const { interval, holding } of sweep(confirmedIntervals(group), (open) => open.length === 0)) {
      // The one reaching furthest: the pair that shows the overlap best.
      const latest = holding.reduce((a, b) => (b.end > a.end ? b : a));
      pairs.push([latest.acq, interval.acq]);
    }
  }
  return pairs;
}

/**
 * Confirmed-valid acquisitions whose fencing token is not above every earlier one's (by grant
 * order) on the same key. Between intervals that do not overlap this means either a hidden
 * overlap or a newer holder with an older token; both break fencing.
 */
export function findFenceInversions(acquisitions: readonly Acquisition[]): Array<[Acquisition, Acquisition]> {
  const pairs: Array<[Acquisition, Acquisition]> = [];
  for (const group of byKey(acquisitions).values()) {
    let top: Acquisition | undefined;
    for (const { acq } of confirmedIntervals(group)) {
      if (top !== undefined && acq.fence <= top.fence) pairs.push([top, acq]);
      if (top === undefined || acq.fence > top.fence) top = acq;
    }
  }
  return pairs;
}

/**
 * Accepted writes that interleave: a holder's write accepted after another holder's accepted
 * write that itself followed the first holder's. A fenced resource with distinct, increasing
 * tokens can never accept one; equal tokens (no fencing) expose overlapping holders here.
 */
export function findStaleAccepted(writes: readonly WriteRecord[]): WriteRecord[] {
  const stale: WriteRecord[] = [];
  for (const group of byKey(writes).values()) {
    let current: string | undefined;
    const superseded = new Set<string>();
    for (const write of group) {
      if (!write.accepted || write.acq === current) continue;
      if (superseded.has(write.acq)) {
        stale.push(write);
        continue;
      }
      if (current !== undefined) superseded.add(current);
      current = write.acq;
    }
  }
  return stale;
}

/**
 * Holders whose `release()` succeeded although another holder, confirmed valid, registered
 * between their grant and their release intent: two holders at once, and the first never heard
 * of it (its signal did not fire, its owner-checked release found its token in place).
 */
export function findLostUnnoticed(acquisitions: readonly Acquisition[]): Array<[Acquisition, Acquisition]> {
  const pairs: Array<[Acquisition, Acquisition]> = [];
  for (const group of byKey(acquisitions).values()) {
    const confirmed = group.filter((a) => a.validThrough !== undefined).sort((x, y) => x.grantedAt - y.grantedAt);
    for (const holder of group) {
      if (holder.outcome !== 'released' || holder.lossReported || holder.releaseIntentAt === undefined) continue;
      const next = confirmed[firstAfter(confirmed, holder.grantedAt)];
      if (next !== undefined && next.grantedAt < holder.releaseIntentAt) pairs.push([holder, next]);
    }
  }
  return pairs;
}

/** One acquisition, for an example line. */
export function describeAcq(a: Acquisition): string {
  const claim = describeClaim(a);
  const through = a.validThrough === undefined ? 'never confirmed' : `valid through ${a.validThrough.toFixed(1)}`;
  return `${a.id} (${a.key}${claim === undefined ? '' : `, ${claim}`}, fence ${a.fence}, granted ${a.grantedAt.toFixed(1)}, ${through}, ${a.outcome}${a.faults.length > 0 ? `, ${a.faults.join('+')}` : ''})`;
}

/** The mutex's checks: one holder per key at a time, tokens rising in grant order. */
export const mutexChecks: PrimitiveChecks = Object.freeze({
  conflicts: (acquisitions: readonly Acquisition[]) => findOverlaps(acquisitions).map(([a, b]) => ({ acq: b, holders: [a] })),
  inversions: findFenceInversions,
  staleAccepted: findStaleAccepted,
  lostUnnoticed: findLostUnnoticed,
  say: Object.freeze({
    conflicts: (n: number) => `${n} acquisitions overlapped another holder's validity`,
    inversions: (n: number) => `${n} holders got a fencing token not above an earlier holder's`,
    lostUnnoticed: (n: number) => `${n} holders lost the lock without their signal or release noticing`,
  }),
});

/**
 * Judges one run. Fails on conflicting validity (for a mutex: overlaps), fence inversions (strict
 * fencing), accepted stale writes, holders that lost the lock unnoticed, early losses, unhandled
 * rejections, leaked processes or keys, unexpected errors and failing scenario findings, except
 * what `policy` documents as the backend's known limit in this scenario. `checks` are those of
 * the primitive the run acquired (default: the mutex's).
 */
export function judge(history: History, policy: VerdictPolicy, checks: PrimitiveChecks = mutexChecks): Verdict {
  const failures: string[] = [];
  const notes: string[] = [];
  const examples: string[] = [];
  const example = (text: string): void => {
    if (examples.length < MAX_EXAMPLES) examples.push(text);
  };
  const documented = policy.documentedUnsafe !== undefined;

  const overlaps = checks.conflicts(history.acquisitions);
  for (const { acq, holders } of overlaps) example(`overlap: ${holders.map(describeAcq).join(', ')} and ${describeAcq(acq)}`);
  const inversions = policy.fencing === 'strict' ? checks.inversions(history.acquisitions) : [];
  for (const [a, b] of inversions) example(`fence inversion: ${describeAcq(a)} then ${describeAcq(b)}`);
  if (overlaps.length > 0) (documented ? notes : failures).push(checks.say.conflicts(overlaps.length));
  if (inversions.length > 0) (documented ? notes : failures).push(checks.say.inversions(inversions.length));

  const staleAccepted = checks.staleAccepted(history.writes);
  for (const w of staleAccepted) example(`stale write accepted: ${w.acq} fence ${w.fence} on ${w.key} at ${w.at.toFixed(1)}`);
  if (staleAccepted.length > 0) failures.push(`${staleAccepted.length} stale writes were accepted by the fenced resource`);
  const staleRejected = history.writes.filter((w) => !w.accepted).length;

  const unnoticed = checks.lostUnnoticed(history.acquisitions);
  for (const [a, b] of unnoticed) example(`lost unnoticed: ${describeAcq(a)} while ${describeAcq(b)}`);
  if (unnoticed.length > 0) failures.push(checks.say.lostUnnoticed(unnoticed.length));

  const early = history.acquisitions.filter((a) => a.earlyLoss);
  for (const a of early) example(`early loss: ${describeAcq(a)}: ${a.lossMessage ?? ''}`);
  const excused = documented || policy.earlyLossExpected === true;
  if (early.length > 0) (excused ? notes : failures).push(`${early.length} locks vanished before their validUntil`);
  const earlyNotHeld = history.acquisitions.filter((a) => a.releaseNotHeldEarly);
  for (const a of earlyNotHeld) example(`release not held early: ${describeAcq(a)}: ${a.lossMessage ?? ''}`);
  if (earlyNotHeld.length > 0) {
    const message = `${earlyNotHeld.length} releases reported LockNotHeldError before validUntil (the lock vanished early, or a re-sent release found its own deletion)`;
    (excused || policy.releaseAmbiguous === true ? notes : failures).push(message);
  }

  // Not a violation by itself (a holder that checks validUntil does nothing), but lock() should
  // not hand out a lock it already knows is over.
  const expiredAtGrant = history.acquisitions.filter((a) => a.validLeftAtGrant <= 0);
  if (expiredAtGrant.length > 0) {
    notes.push(`${expiredAtGrant.length} handles were already past validUntil when lock() returned them`);
    for (const a of expiredAtGrant) example(`expired at grant: ${describeAcq(a)}, ${Math.round(-a.validLeftAtGrant)} ms past validUntil`);
  }

  const errors = Object.values(history.errors).reduce((n, c) => n + c, 0);
  // A waiter giving up after its waitTimeout is about liveness under contention, not safety.
  const timeouts = Object.entries(history.errors).filter(([kind]) => kind.endsWith(':LockAcquireTimeoutError'));
  const others = Object.entries(history.errors).filter(([kind]) => !kind.endsWith(':LockAcquireTimeoutError'));
  if (timeouts.length > 0) notes.push(`waits that ran out (waitTimeout): ${timeouts.map(([k, c]) => `${k} x${c}`).join(', ')}`);
  if (others.length > 0) {
    const list = others.map(([k, c]) => `${k} x${c}`).join(', ');
    (policy.errorsExpected === true ? notes : failures).push(`worker errors: ${list}`);
  }
  if (history.unhandled.length > 0) {
    failures.push(`${history.unhandled.length} unhandled rejections/exceptions in workers`);
    for (const u of history.unhandled) example(`unhandled: ${u}`);
  }
  if (history.leakedProcesses.length > 0) failures.push(`leaked processes: ${history.leakedProcesses.join('; ')}`);
  if (history.leakedKeys.length > 0) failures.push(`leaked keys: ${history.leakedKeys.slice(0, 5).join(', ')}`);
  for (const finding of history.findings) {
    if (finding.severity === 'failure') failures.push(finding.message);
    else notes.push(finding.message);
  }
  if (documented) notes.unshift(`documented: ${policy.documentedUnsafe}`);
  if (history.acquisitions.length === 0) failures.push('no acquisition completed: the run proves nothing');

  return {
    acquisitions: history.acquisitions.length,
    overlaps: overlaps.length,
    fenceInversions: inversions.length,
    staleRejected,
    staleAccepted: staleAccepted.length,
    lossesReported: history.acquisitions.filter((a) => a.lossReported).length,
    lostUnnoticed: unnoticed.length,
    earlyLosses: early.length,
    earlyNotHeld: earlyNotHeld.length,
    expiredAtGrant: expiredAtGrant.length,
    errors,
    unhandled: history.unhandled.length,
    leakedProcesses: history.leakedProcesses.length,
    leakedKeys: history.leakedKeys.length,
    status: failures.length > 0 ? 'fail' : documented ? 'documented' : 'pass',
    failures,
    notes,
    examples,
  };
}
