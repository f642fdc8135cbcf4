import { admits, claimOf } from './claims.js';
import type { GuardedResource } from './resource.js';
import type { Acquisition, Claim, WriteRecord } from './types.js';

interface Holder {
  fence: bigint;
  claim: Claim;
}

/**
 * The resource a read-write lock or a semaphore protects, guarded by fencing tokens as a store
 * would guard it for shared claims: per key it keeps the registered holders (a holder leaves when
 * it announces its release) and admits a new holder only with the claims of those it keeps
 * (readers with readers, permits within the limit). When the newcomer does not fit, some holder
 * it keeps must have lost its claim on the server, or the server would not have granted the
 * newcomer: it drops the holder with the lowest token, and so on until the newcomer fits, or
 * refuses the newcomer when its own token is the lowest. A dropped holder's writes are refused
 * from then on. Which holder lost its claim cannot be told from tokens alone, so a valid older
 * holder may be dropped before a stale newer one; that costs writes, never exclusion.
 */
export class ClaimResource implements GuardedResource {
  readonly log: WriteRecord[] = [];
  readonly #holders = new Map<string, Map<string, Holder>>();

  admit(acquisition: Acquisition, at: number): boolean {
    const { key, id, fence } = acquisition;
    const claim = claimOf(acquisition);
    const holders = this.#holdersOf(key);
    while (!admits([...holders.values()].map((h) => h.claim), claim)) {
      let lowest: [string, Holder] | undefined;
      for (const entry of holders) if (lowest === undefined || entry[1].fence < lowest[1].fence) lowest = entry;
      if (lowest === undefined || lowest[1].fence >= fence) {
        this.log.push({ at, key, acq: id, fence, kind: 'register', accepted: false, claim });
        return false;
      }
      holders.delete(lowest[0]);
      this.log.push({ at, key, acq: lowest[0], fence: lowest[1].fence, kind: 'evict', accepted: true });
    }
    holders.set(id, { fence, claim });
    this.log.push({ at, key, acq: id, fence, kind: 'register', accepted: true, claim });
    return true;
  }

  accept(acquisition: Acquisition, at: number): boolean {
    const accepted = this.#holdersOf(acquisition.key).has(acquisition.id);
    const kind = acquisition.mode === 'read' ? 'read' : 'write';
    this.log.push({ at, key: acquisition.key, acq: acquisition.id, fence: acquisition.fence, kind, accepted });
    return accepted;
  }

  leave(acquisition: Acquisition, at: number): void {
    if (!this.#holdersOf(acquisition.key).delete(acquisition.id)) return;
    this.log.push({ at, key: acquisition.key, acq: acquisition.id, fence: acquisition.fence, kind: 'leave', accepted: true });
  }

  /** How many registrations, writes and reads were refused. */
  get rejected(): number {
    return this.log.reduce((n, w) => n + (w.accepted ? 0 : 1), 0);
  }

  #holdersOf(key: string): Map<string, Holder> {
    let holders = this.#holders.get(key);
    if (holders === undefined) this.#holders.set(key, (holders = new Map()));
    return holders;
  }
}
