import type { Clock } from '../clock.js';
import { monotonicClock } from '../clock.js';
import type { Handle } from '../handle.js';
import { timerDelay } from '../sleep.js';
import type { Pace } from './driver.js';

export type { Pace } from './driver.js';

/** Outcome of renewing one handle: renewed, confirmed gone, or a (transient) error. */
export type RenewOutcome = 'renewed' | 'lost' | 'error';

/** Default time budget of one slice of a tick, in ms (see {@link WatchdogOptions.sliceMs}). */
export const DEFAULT_WATCHDOG_SLICE_MS = 4;

/** Options of a {@link Watchdog}. */
export interface WatchdogOptions {
  /**
   * How long one tick may run before it yields to the event loop, in ms of real time. A tick
   * renewing 10,000 locks then adds a few ms to the event-loop delay instead of tens of ms.
   * `Infinity` runs every tick in one piece.
   * @default 4
   */
  readonly sliceMs?: number;
}

/** The batch a watchdog runs per tick: renews `handles` at once, one outcome per handle, in order. */
export type RenewBatch<D> = (handles: Array<Handle<D>>, pace: Pace) => Promise<RenewOutcome[]>;

/**
 * Renews held locks at `ttl / 3`. All handles due around the same time are renewed in one
 * batch call (one pipeline per tick for Redis), instead of one timer and one round trip each.
 * A handle is renewed up to half an interval early so that locks taken at nearby moments
 * share a tick. A failed renewal is retried sooner; giving up is the owner's expiry timer's
 * job (past `validUntil` the lock is lost), so a transient error never loses a lock early.
 *
 * A tick runs in slices that yield to the event loop (see {@link WatchdogOptions.sliceMs}):
 * collecting the due handles, and settling their outcomes. The batch gets the same
 * {@link Pace}, to yield while it prepares the one request and while it reads the replies.
 * Yielding never makes a lock look valid longer: the next renewal is due `ttl / 3` after the
 * tick began, which is before the request was sent.
 */
export class Watchdog<D = unknown> {
  readonly #entries = new Map<Handle<D>, { nextAt: number }>();
  readonly #sliceMs: number;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  #ticking = false;

  constructor(
    private readonly renewBatch: RenewBatch<D>,
    private readonly clock: Clock = monotonicClock,
    /** Called with any error a tick throws; a tick never rejects unhandled. */
    private readonly onError: (error: unknown) => void = () => {},
    options: WatchdogOptions = {},
  ) {
    const sliceMs = options.sliceMs ?? DEFAULT_WATCHDOG_SLICE_MS;
    if (typeof sliceMs !== 'number' || Number.isNaN(sliceMs) || sliceMs <= 0) {
      throw new TypeError(`sliceMs must be a number > 0 (Infinity: no slicing), got ${String(sliceMs)} (${typeof sliceMs})`);
    }
    this.#sliceMs = sliceMs;
  }

  /**
   * Starts renewing `handle`; the returned function stops it (idempotent). The first renewal
   * is due ttl/3 from now, or at a third of what is left of the lease if that is sooner (a
   * handle passed to `autoRenew` late), so that it lands before the lease ends.
   */
  add(handle: Handle<D>): () => void {
    const now = this.clock.now();
    const nextAt = now + firstDelay(handle, now);
    this.#entries.set(handle, { nextAt });
    // Only this entry can move the timer earlier: no scan, so adding n handles costs O(n).
    this.#scheduleAt(nextAt);
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

  /** Re-arms the timer for the earliest entry (after a tick; a removed entry may leave it early, which is harmless). */
  #schedule(): void {
    let earliest = Infinity;
    for (const e of this.#entries.values()) if (e.nextAt < earliest) earliest = e.nextAt;
    if (earliest === Infinity) return this.#clearTimer();
    this.#scheduleAt(earliest);
  }

  #scheduleAt(at: number): void {
    if (this.#ticking) return; // the running tick reschedules when it ends
    if (at >= this.#timerAt) return;
    this.#clearTimer();
    this.#timerAt = at;
    this.#timer = setTimeout(() => void this.#tick(), timerDelay(at - this.clock.now()));
    // A held lock must not keep the process alive on its own; the critical section does that.
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    this.#ticking = true;
    const pace = slicer(this.#sliceMs);
    try {
      // Before anything is sent: the next renewal counts from here (see the class comment).
      const now = this.clock.now();
      let due: Array<Handle<D>> = [];
      for (const [handle, e] of this.#entries) {
        if (!handle.held) this.#entries.delete(handle);
        else if (e.nextAt <= now + interval(handle) / 2) due.push(handle);
        const turn = pace();
        if (turn !== undefined) await turn;
      }
      // Stopped or released while the collecting yielded: not renewed.
      due = due.filter((handle) => handle.held && this.#entries.has(handle));
      if (due.length === 0) return;
      let outcomes: RenewOutcome[];
      try {
        outcomes = await this.renewBatch(due, pace);
      } catch (error) {
        this.onError(error);
        outcomes = due.map(() => 'error');
      }
      const after = this.clock.now();
      for (let i = 0; i < due.length; i++) {
        const handle = due[i]!;
        const entry = this.#entries.get(handle);
        if (entry === undefined) continue;
        const outcome = outcomes[i] ?? 'error';
        if (outcome === 'lost' || !handle.held) this.#entries.delete(handle);
        // Validity counts from when the renewal was sent, so the next one is due ttl/3 after that
        // moment, not after a slow batch came back.
        else if (outcome === 'renewed') entry.nextAt = now + interval(handle);
        else entry.nextAt = after + retryDelay(handle, after);
        const turn = pace();
        if (turn !== undefined) await turn;
      }
    } catch (error) {
      this.onError(error);
    } finally {
      this.#ticking = false;
      this.#schedule();
    }
  }
}

/** A {@link Pace} for one tick: yields once `sliceMs` of real time passed since the slice began. */
function slicer(sliceMs: number): Pace {
  if (sliceMs === Infinity) return () => undefined;
  let sliceStart = performance.now();
  const next = (): Promise<void> =>
    new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      sliceStart = performance.now();
    });
  return () => (performance.now() - sliceStart < sliceMs ? undefined : next());
}

function interval(handle: Handle<unknown>): number {
  return Math.max(1, Math.floor(handle.ttl / 3));
}

/**
 * When the first renewal of a handle added at `now` is due: ttl/3 for a fresh lease, but a
 * third of what is left when that is less (autoRenew called late, or a lease whose acquire
 * answered slowly), so the round trip has two thirds of the remaining lease to land in. A
 * handle already past its lease is due at once (the expiry timer decides whether it is lost).
 * The tick's half-interval window may renew it a little earlier still, never later.
 */
function firstDelay(handle: Handle<unknown>, now: number): number {
  const left = handle.validUntil - now;
  return Math.max(0, Math.min(interval(handle), Math.floor(left / 3)));
}

/** After an error: retry a few times before validity runs out, but not in a tight loop. */
function retryDelay(handle: Handle<unknown>, now: number): number {
  const left = handle.validUntil - now;
  return Math.max(10, Math.min(interval(handle), left / 4));
}
