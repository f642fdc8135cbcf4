import { InvalidOptionError } from '../errors.js';
import { EXCLUSIVE, SHARED, type Claim, type ClaimKind, type LockDriver } from './driver.js';

/** Every kind of claim, in the order messages list them. */
const KINDS: readonly ClaimKind[] = ['exclusive', 'shared', 'permits'];

/** The largest `limit` (and so `permits`) accepted: a count every backend stores exactly. */
export const MAX_PERMITS = 2 ** 31 - 1;

/**
 * Checks a claim before any I/O: a known kind that the driver serves (`serves`), and for
 * `permits` two integers with `1 <= permits <= limit <= MAX_PERMITS`. Returns the claim to send:
 * the shared constants for `exclusive` and `shared`, a frozen copy for `permits` (so that a
 * caller changing its object later cannot change a queued request).
 */
export function validateClaim(claim: unknown, serves: readonly ClaimKind[]): Claim {
  if (claim === EXCLUSIVE || claim === SHARED) return checkServed(claim as Claim, serves);
  if (typeof claim !== 'object' || claim === null) {
    throw new InvalidOptionError('claim', `an object with kind ${KINDS.join(', ')}`, claim);
  }
  const { kind } = claim as { kind?: unknown };
  if (kind === 'exclusive') return checkServed(EXCLUSIVE, serves);
  if (kind === 'shared') return checkServed(SHARED, serves);
  if (kind !== 'permits') throw new InvalidOptionError('claim.kind', `one of ${KINDS.join(', ')}`, kind);
  const { permits, limit } = claim as { permits?: unknown; limit?: unknown };
  const checked = validatePermits(permits, limit);
  return checkServed(Object.freeze({ kind: 'permits', permits: checked.permits, limit: checked.limit }), serves);
}

/**
 * `limit` is an integer from 1 to {@link MAX_PERMITS}, `permits` an integer from 1 to `limit`.
 * Throws `InvalidOptionError` naming the option (`limit`, `permits`).
 */
export function validatePermits(permits: unknown, limit: unknown): { permits: number; limit: number } {
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_PERMITS) {
    throw new InvalidOptionError('limit', `an integer from 1 to ${MAX_PERMITS}`, limit);
  }
  if (typeof permits !== 'number' || !Number.isInteger(permits) || permits < 1 || permits > limit) {
    throw new InvalidOptionError('permits', `an integer from 1 to limit (${limit})`, permits);
  }
  return { permits, limit };
}

function checkServed(claim: Claim, serves: readonly ClaimKind[]): Claim {
  if (!serves.includes(claim.kind)) {
    throw new InvalidOptionError('claim.kind', `a claim this backend serves (${serves.join(', ')})`, claim.kind);
  }
  return claim;
}

/**
 * A read-write lock or semaphore needs a driver that serves its claims, reports holders, and
 * orders waiters across processes (a wait list, or a native queue): checked at construction.
 */
export function requireFeatures<D>(driver: LockDriver<D>, claims: readonly ClaimKind[], what: string): void {
  const { features } = driver;
  const missing = claims.filter((kind) => !features.claims.includes(kind));
  if (missing.length > 0) throw new InvalidOptionError('driver.features.claims', `to include ${missing.join(', ')} for ${what}`, features.claims.join(', '));
  if (features.inspectHolders === undefined) throw new InvalidOptionError('driver.features.inspectHolders', `declared for ${what}`, undefined);
  if (features.waitList === undefined && features.queue === undefined) {
    throw new InvalidOptionError('driver.features', `to declare a waitList or a queue for ${what} (the server orders its waiters)`, undefined);
  }
}
