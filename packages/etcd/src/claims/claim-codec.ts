import { Admission, EXCLUSIVE, SHARED, type Claim } from '@dlock/core';
import type { IKeyValue } from 'etcd3';
import { isQueueEntry } from '../keys.js';

/**
 * How the claims of `EtcdReadWriteLock` and `EtcdSemaphore` sit in etcd. Every holder and every
 * waiter of a name is one key `<prefix><name>/<lease hex>-<16 hex of its token>` on the
 * instance's shared lease; its value records the claim and the owner's token:
 *
 * - `w <token>`: a writer (`exclusive`);
 * - `r <token>`: a reader (`shared`);
 * - `p <permits>/<limit> <token>`: a semaphore acquisition.
 *
 * The keys' create revisions order them: a key is admitted when its claim fits with every key
 * created before it (core's `Admission`), so the admitted keys are always the oldest ones and a
 * key, once admitted, stays admitted until it is deleted. The value is what release and renew
 * compare (it holds the token), and what lets another caller see a claim and its limit.
 */

/** The value of a claim's key: the claim, then the owner's token. */
export function claimValue(claim: Claim, token: string): string {
  if (claim.kind === 'exclusive') return `w ${token}`;
  if (claim.kind === 'shared') return `r ${token}`;
  return `p ${claim.permits}/${claim.limit} ${token}`;
}

/** A key's claim and owner, read back from its value. */
export interface ParsedClaim {
  readonly claim: Claim;
  /** The owner's token (`''` when the value is not one of ours). */
  readonly token: string;
}

/**
 * Reads a claim key's value. A value that is not one of ours (someone else's key under the
 * directory) counts as a writer: it holds everything behind it back, which is the safe reading.
 */
export function parseClaimValue(value: Buffer): ParsedClaim {
  const text = value.toString('utf8');
  const parts = text.split(' ');
  if (parts.length === 2 && parts[0] === 'r') return { claim: SHARED, token: parts[1]! };
  if (parts.length === 2 && parts[0] === 'w') return { claim: EXCLUSIVE, token: parts[1]! };
  if (parts.length === 3 && parts[0] === 'p') {
    const m = /^(\d+)\/(\d+)$/.exec(parts[1]!);
    if (m !== null) return { claim: { kind: 'permits', permits: Number(m[1]), limit: Number(m[2]) }, token: parts[2]! };
  }
  return { claim: EXCLUSIVE, token: '' };
}

/** The key of one claim: `<directory><lease hex>-<first 16 hex of the token>`. */
export function claimKey(directory: Buffer, leaseHex: string, token: string): Buffer {
  return Buffer.concat([directory, Buffer.from(`${leaseHex}-${token.slice(0, 16)}`, 'latin1')]);
}

/** One key of a claim directory, read. */
export interface ClaimKv {
  readonly kv: IKeyValue;
  readonly claim: Claim;
  readonly token: string;
  readonly rev: bigint;
}

/**
 * The direct entries of `directory` among `kvs` (not those of a name that extends ours, as in
 * `EtcdMutex`), oldest first.
 */
export function claimEntries(directory: Buffer, kvs: readonly IKeyValue[]): ClaimKv[] {
  const out: ClaimKv[] = [];
  for (const kv of kvs) {
    if (!isQueueEntry(directory, kv.key)) continue;
    out.push({ kv, ...parseClaimValue(kv.value), rev: BigInt(kv.create_revision) });
  }
  return out.sort((x, y) => (x.rev < y.rev ? -1 : x.rev > y.rev ? 1 : 0));
}

/** Which of `entries` (oldest first) are admitted: each one whose claim fits with all before it. */
export function admitted(entries: readonly ClaimKv[]): boolean[] {
  const group = new Admission();
  return entries.map((e) => {
    const fits = group.fits(e.claim);
    group.add(e.claim);
    return fits;
  });
}

/** Whether `claim` fits after `before` (every key older than it, oldest first). */
export function fitsAfter(claim: Claim, before: readonly ClaimKv[]): boolean {
  const group = new Admission();
  for (const e of before) group.add(e.claim);
  return group.fits(claim);
}

/** The limit of a semaphore key before ours that disagrees with `claim`'s, if any. */
export function otherLimit(claim: Claim, before: readonly ClaimKv[]): number | undefined {
  if (claim.kind !== 'permits') return undefined;
  for (const e of before) if (e.claim.kind === 'permits' && e.claim.limit !== claim.limit) return e.claim.limit;
  return undefined;
}
