import type { Clock } from '../clock.js';
import { withJitter } from '../sleep.js';

/** First retry after a backend failure, in ms; each further failure in a row doubles it. */
const FIRST_BACKOFF_MS = 50;

/**
 * The backend failures in a row that one `lock()` call meets while it waits: how long to back
 * off before the next attempt, and when to give up. Any answer from the backend (even "held by
 * someone else") ends the run of failures.
 *
 * `limit` is how long a run of failures may last before `lock()` gives up with the last error:
 * the lock's `unavailableTimeout` when the call has no `waitTimeout`, `Infinity` when it has one
 * (the deadline decides, and the timeout error carries {@link lastError} as its cause).
 */
export class Outage {
  /** The last failure of the current run, or `undefined` once the backend answered again. */
  lastError: Error | undefined;
  #since: number | undefined;
  #failures = 0;

  constructor(
    private readonly clock: Clock,
    private readonly maxDelay: number,
    private readonly limit: number,
  ) {}

  /** Whether the last attempt failed. */
  get active(): boolean {
    return this.#since !== undefined;
  }

  /** How long the current run of failures has lasted, in ms (0 when there is none). */
  get lasted(): number {
    return this.#since === undefined ? 0 : this.clock.now() - this.#since;
  }

  /** Failures in the current run. */
  get failures(): number {
    return this.#failures;
  }

  /** The backend answered: the outage (if any) is over. */
  clear(): void {
    this.#since = undefined;
    this.#failures = 0;
    this.lastError = undefined;
  }

  /**
   * Records a failure. Returns the delay before the next attempt (exponential, with jitter, at
   * most `maxDelay`), or `undefined` when the run of failures has lasted `limit` ms or more.
   */
  failed(error: Error): number | undefined {
    this.#since ??= this.clock.now();
    this.#failures += 1;
    this.lastError = error;
    if (this.lasted >= this.limit) return undefined;
    return withJitter(Math.min(FIRST_BACKOFF_MS * 2 ** (this.#failures - 1), this.maxDelay));
  }
}
