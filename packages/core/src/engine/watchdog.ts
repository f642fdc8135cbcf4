import type { Clock } from '../clock.js';
import { monotonicClock } from '../clock.js';
import type { Handle } from '../handle.js';
import { timerDelay } from '../sleep.js';

/** Outcome of renewing one handle: renewed, confirmed gone, or a (transient) error. */
export type RenewOutcome = 'renewed' | 'lost' | 'error';

/**
 * Renews held locks at `ttl / 3`. All handles due around the same time are renewed in one
 * batch call (one pipeline per tick for Redis), instead of one timer and one round trip each.
 * A handle is renewed up to half an interval early so that locks taken at nearby moments
 * share a tick. A failed renewal is retried sooner; giving up is the owner's expiry timer's
 * job (past `validUntil` the lock is lost), so a transient error never loses a lock early.
 */
export class Watchdog<D = unknown> {
  readonly #entries = new Map<Handle<D>, { nextAt: number }>();
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  #ticking = false;

  constructor(
    private readonly renewBatch: (handles: Array<Handle<D>>) => Promise<RenewOutcome[]>,
    private readonly clock: Clock = monotonicClock,
    /** Called with any error a tick throws; a tick never rejects unhandled. */
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  /** Starts renewing `handle`; the returned function stops it (idempotent). */
  add(handle: Handle<D>): () => void {
    this.#entries.set(handle, { nextAt: this.clock.now() + interval(handle) });
    this.#schedule();
    return () => this.remove(handle);
  }

  remove(handle: Handle<D>): void {
    this.#entries.delete(handle);
    if (this.#entries.size === 0) this.#clearTimer();
  }

  get size(): number {
    return this.#entries.size;
  }

  stop(): void {
    this.#entries.clear();
    this.#clearTimer();
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  #schedule(): void {
    if (this.#ticking) return; // the running tick reschedules when it ends
    let earliest = Infinity;
    for (const e of this.#entries.values()) earliest = Math.min(earliest, e.nextAt);
    if (earliest === Infinity) return this.#clearTimer();
    if (earliest >= this.#timerAt) return;
    this.#clearTimer();
    this.#timerAt = earliest;
    this.#timer = setTimeout(() => void this.#tick(), timerDelay(earliest - this.clock.now()));
    // A held lock must not keep the process alive on its own; the critical section does that.
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    this.#ticking = true;
    try {
      const now = this.clock.now();
      const due: Array<Handle<D>> = [];
      for (const [handle, e] of this.#entries) {
        if (!handle.held) this.#entries.delete(handle);
        else if (e.nextAt <= now + interval(handle) / 2) due.push(handle);
      }
      if (due.length === 0) return;
      let outcomes: RenewOutcome[];
      try {
        outcomes = await this.renewBatch(due);
      } catch (error) {
        this.onError(error);
        outcomes = due.map(() => 'error');
      }
      const after = this.clock.now();
      due.forEach((handle, i) => {
        const entry = this.#entries.get(handle);
        if (entry === undefined) return;
        const outcome = outcomes[i] ?? 'error';
        if (outcome === 'lost' || !handle.held) this.#entries.delete(handle);
        // Validity counts from when the renewal was sent, so the next one is due ttl/3 after that
        // moment, not after a slow batch came back.
        else if (outcome === 'renewed') entry.nextAt = now + interval(handle);
        else entry.nextAt = after + retryDelay(handle, after);
      });
    } catch (error) {
      this.onError(error);
    } finally {
      this.#ticking = false;
      this.#schedule();
    }
  }
}

function interval(handle: Handle<unknown>): number {
  return Math.max(1, Math.floor(handle.ttl / 3));
}

/** After an error: retry a few times before validity runs out, but not in a tight loop. */
function retryDelay(handle: Handle<unknown>, now: number): number {
  const left = handle.validUntil - now;
  return Math.max(10, Math.min(interval(handle), left / 4));
}
