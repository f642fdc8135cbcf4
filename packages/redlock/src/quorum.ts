/** Quorum arithmetic and the parallel fan-out to the nodes; no I/O of its own. */

/**
 * Nodes that must agree among `nodes`: a strict majority, `floor(nodes / 2) + 1`.
 * @example
 * ```ts
 * quorumOf(5); // 3: any 2 of 5 nodes may fail
 * ```
 */
export function quorumOf(nodes: number): number {
  return Math.floor(nodes / 2) + 1;
}

/** What one node did: answered with `value`, or failed (timeout, connection, server error). */
export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: Error };

/** Outcomes by node index; `undefined` for a node that had not answered when the result was decided. */
export type Outcomes<T> = ReadonlyArray<Outcome<T> | undefined>;

/**
 * Starts `op` on every node at once and resolves with every node's outcome as soon as
 * `decided(known)` holds or all have settled. Never rejects. `op` must bound its own time
 * (a per-node timeout); commands still pending when the result is decided carry on, and
 * their outcome is dropped.
 */
export function gather<T>(
  count: number,
  op: (index: number) => Promise<T>,
  decided: (known: Outcomes<T>) => boolean = () => false,
): Promise<Outcomes<T>> {
  return new Promise((resolve) => {
    const known: Array<Outcome<T> | undefined> = new Array<Outcome<T> | undefined>(count).fill(undefined);
    let left = count;
    let done = false;
    if (count === 0) return resolve(known);
    const settle = (index: number, outcome: Outcome<T>): void => {
      if (done) return;
      known[index] = outcome;
      left--;
      if (left === 0 || decided(known)) {
        done = true;
        resolve([...known]);
      }
    };
    for (let i = 0; i < count; i++) {
      let pending: Promise<T>;
      try {
        pending = op(i);
      } catch (error) {
        pending = Promise.reject(error);
      }
      pending.then(
        (value) => settle(i, { ok: true, value }),
        (error: unknown) => settle(i, { ok: false, error: error instanceof Error ? error : new Error(String(error)) }),
      );
    }
  });
}

/** Nodes whose outcome satisfies `test`. */
export function count<T>(outcomes: Outcomes<T>, test: (value: T) => boolean): number {
  let n = 0;
  for (const o of outcomes) if (o?.ok && test(o.value)) n++;
  return n;
}

/** Nodes that failed or had not answered. */
export function unanswered<T>(outcomes: Outcomes<T>): number {
  return outcomes.filter((o) => !o?.ok).length;
}

/** A node that refused an acquire: someone else's lease there, and whose. */
export interface Refusal {
  /** ms left on that lease; `-1` if it has no expiry (not set by dlock). */
  readonly pttl: number;
  /** First 16 characters of the holder's token. */
  readonly holder: string;
}

/** What a failed acquire attempt saw, for {@link retryAfterContention}. */
export interface ContentionView {
  readonly quorum: number;
  /** Nodes this attempt took (now given back, so free again). */
  readonly taken: number;
  readonly refusals: readonly Refusal[];
  /** Nodes that did not answer. */
  readonly unreachable: number;
  /** Holders known to be releasing right now (their release was announced). */
  readonly releasing: ReadonlySet<string>;
  /** Upper bound of the random delay after a split, in ms. */
  readonly retryDelay: number;
  /** A number in [0, 1). */
  readonly random: () => number;
}

/**
 * How long `lock()` may sleep after losing an attempt (a release announcement wakes it earlier).
 *
 * If one holder may own a quorum (counting the nodes we could not reach), the key cannot be
 * ours before enough of its leases end: the `needed`-th shortest PTTL, where `needed` is how many
 * more nodes must become free. Otherwise the refusals are leftovers of attempts that failed
 * (a split vote) or of a release still on its way: they vanish within a round trip without
 * any announcement, so retry soon, at a random moment so that rivals do not split again.
 * Returns `-1` when no bound is known (the base lock then uses `maxRetryDelay`).
 */
export function retryAfterContention(v: ContentionView): number {
  const needed = v.quorum - v.taken;
  const pttls = v.refusals
    .map((r) => r.pttl)
    .filter((t) => t >= 0)
    .sort((a, b) => a - b);
  const bound = needed >= 1 && needed <= pttls.length ? pttls[needed - 1]! : -1;
  const perHolder = new Map<string, number>();
  for (const r of v.refusals) {
    if (!v.releasing.has(r.holder)) perHolder.set(r.holder, (perHolder.get(r.holder) ?? 0) + 1);
  }
  const someoneMayHoldIt = [...perHolder.values()].some((n) => n + v.unreachable >= v.quorum);
  if (someoneMayHoldIt) return bound;
  const soon = v.random() * v.retryDelay;
  return bound >= 0 ? Math.min(bound, soon) : soon;
}

/** The most common value (ties: the largest); `undefined` for none. */
export function mostCommon(values: readonly bigint[]): bigint | undefined {
  const counts = new Map<bigint, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: bigint | undefined;
  let bestCount = 0;
  for (const [v, n] of counts) {
    if (n > bestCount || (n === bestCount && best !== undefined && v > best)) {
      best = v;
      bestCount = n;
    }
  }
  return best;
}
