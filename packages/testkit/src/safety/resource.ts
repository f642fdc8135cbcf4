import type { Acquisition, WriteRecord } from './types.js';

/**
 * What the checker's pool asks of the resource the holders write to, one step at a time in the
 * order it receives them (checker clock `at`).
 */
export interface GuardedResource {
  /** Every decision, in decision order. */
  readonly log: WriteRecord[];
  /** The holder's first write, right after acquiring; whether it was accepted. */
  admit(acquisition: Acquisition, at: number): boolean;
  /** One of the holder's writes (a reader's read); whether it was accepted. */
  accept(acquisition: Acquisition, at: number): boolean;
  /** The holder announced its release: it writes no more. */
  leave(acquisition: Acquisition, at: number): void;
}

/**
 * The resource the locks protect, as a fencing-aware store would guard it: per key, a write is
 * accepted only with a fencing token at least as high as the highest it has accepted; a stale
 * write (lower token) is rejected and counted. Every decision is logged in order, so the
 * verdict can check afterwards that no holder's write slipped in after a newer holder's.
 *
 * It lives in the checker process; workers reach it over their IPC channel, and the checker
 * decides writes one at a time, in the order it receives them.
 */
export class FencedResource implements GuardedResource {
  /** Every decision, in decision order. */
  readonly log: WriteRecord[] = [];
  readonly #highest = new Map<string, bigint>();

  /**
   * Decides one write of acquisition `acq` carrying `fence` on `key`, at `at` (checker clock).
   * `register` is the write a holder makes right after acquiring, so that a newer holder fences
   * out an older one even before its first real write.
   * @returns whether the write was accepted.
   */
  write(key: string, acq: string, fence: bigint, kind: 'register' | 'write', at: number): boolean {
    const highest = this.#highest.get(key);
    const accepted = highest === undefined || fence >= highest;
    if (accepted) this.#highest.set(key, fence);
    this.log.push({ at, key, acq, fence, kind, accepted });
    return accepted;
  }

  admit(acquisition: Acquisition, at: number): boolean {
    return this.write(acquisition.key, acquisition.id, acquisition.fence, 'register', at);
  }

  accept(acquisition: Acquisition, at: number): boolean {
    return this.write(acquisition.key, acquisition.id, acquisition.fence, 'write', at);
  }

  /** Nothing to do: the next holder's higher token supersedes this one anyway. */
  leave(): void {}

  /** The highest fencing token accepted for `key`, or undefined before the first write. */
  highest(key: string): bigint | undefined {
    return this.#highest.get(key);
  }

  /** How many writes were rejected as stale. */
  get rejected(): number {
    return this.log.reduce((n, w) => n + (w.accepted ? 0 : 1), 0);
  }
}
