// The interval arithmetic every verdict shares: acquisitions grouped by key, their confirmed
// validity as intervals on the checker's clock, a sweep that finds the intervals starting while
// holders they cannot share the key with are still in theirs, and grant-order fencing.
import { admits } from './claims.js';
import type { Acquisition, Claim } from './types.js';

/** An acquisition's confirmed validity: `[grantedAt, validThrough]` on the checker's clock (or a longer proven hold). */
export interface Interval {
  acq: Acquisition;
  start: number;
  end: number;
}

/** An interval that began while others it cannot be held with were still in theirs. */
export interface Clash {
  interval: Interval;
  /** Every interval still open at its start (what it was judged against). */
  holding: Interval[];
}

/** `items` grouped by their key, in input order within each group. */
export function byKey<T extends { key: string }>(items: readonly T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(item.key);
    if (group === undefined) groups.set(item.key, [item]);
    else group.push(item);
  }
  return groups;
}

/** The confirmed intervals of `acquisitions` (those never confirmed valid have none), by start. */
export function confirmedIntervals(acquisitions: readonly Acquisition[]): Interval[] {
  return acquisitions
    .filter((a) => a.validThrough !== undefined)
    .map((a) => ({ acq: a, start: a.grantedAt, end: a.validThrough ?? a.grantedAt }))
    .sort((x, y) => x.start - y.start);
}

/**
 * Walks `intervals` (of one key, sorted by start) and returns each one whose claim `admit` does
 * not allow next to the intervals still open at its start. Intervals that only touch
 * (`end === start`) are not open together.
 */
export function sweep(intervals: readonly Interval[], admit: (holding: readonly Claim[], next: Claim) => boolean = admits): Clash[] {
  const clashes: Clash[] = [];
  let open: Interval[] = [];
  for (const interval of intervals) {
    open = open.filter((o) => o.end > interval.start);
    if (!admit(open.map((o) => o.acq), interval.acq)) clashes.push({ interval, holding: [...open] });
    open.push(interval);
  }
  return clashes;
}

/** Index of the first acquisition granted strictly after `at` (`sorted` by grant time). */
export function firstAfter(sorted: readonly Acquisition[], at: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid]?.grantedAt ?? Infinity) > at) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Acquisitions whose fencing token is not above that of one surely granted before them: one
 * registered (so granted) before they even called the acquiring method. That order holds for
 * every mode and any number of concurrent holders, where the start order of confirmed intervals
 * says nothing (two readers granted together may register in either order). Every acquisition
 * counts, confirmed or not: the token comes with the grant. Pairs are `[earlier, later]`.
 */
export function findOrderInversions(acquisitions: readonly Acquisition[]): Array<[Acquisition, Acquisition]> {
  const pairs: Array<[Acquisition, Acquisition]> = [];
  for (const group of byKey(acquisitions).values()) {
    const granted = [...group].sort((x, y) => x.grantedAt - y.grantedAt);
    const called = group.filter((a) => a.calledAtLeast !== undefined).sort((x, y) => (x.calledAtLeast ?? 0) - (y.calledAtLeast ?? 0));
    let next = 0;
    let top: Acquisition | undefined;
    for (const later of called) {
      for (; next < granted.length && (granted[next]?.grantedAt ?? Infinity) < (later.calledAtLeast ?? -Infinity); next++) {
        const earlier = granted[next];
        if (earlier !== undefined && (top === undefined || earlier.fence > top.fence)) top = earlier;
      }
      if (top !== undefined && top !== later && later.fence <= top.fence) pairs.push([top, later]);
    }
  }
  return pairs;
}

/** `pairs` with at most one pair per later acquisition (the first), in input order. */
export function oncePerLater(pairs: ReadonlyArray<[Acquisition, Acquisition]>): Array<[Acquisition, Acquisition]> {
  const seen = new Set<string>();
  const once: Array<[Acquisition, Acquisition]> = [];
  for (const pair of pairs) {
    if (seen.has(pair[1].id)) continue;
    seen.add(pair[1].id);
    once.push(pair);
  }
  return once;
}
