import type { Clock } from '../clock.js';
import type { Handle } from '../handle.js';
import { timerDelay } from '../sleep.js';
import type { RenewObserver } from '../types.js';

/**
 * The handles an engine holds, each with its expiry timer (past `validUntil` without a renewal
 * the lock may belong to someone else: `onExpired` reports it lost) and its renewal observer.
 */
export class HeldSet<D> {
  readonly #handles = new Set<Handle<D>>();
  /** Per held handle, its expiry timer and the validUntil it was set for. */
  readonly #expiry = new Map<Handle<D>, { timer: NodeJS.Timeout; at: number }>();
  readonly #observers = new Map<Handle<D>, RenewObserver>();

  constructor(
    private readonly clock: Clock,
    private readonly onExpired: (handle: Handle<D>) => void,
  ) {}

  get size(): number {
    return this.#handles.size;
  }

  has(handle: Handle<D>): boolean {
    return this.#handles.has(handle);
  }

  all(): Array<Handle<D>> {
    return [...this.#handles];
  }

  /** Starts tracking `handle` and arms its expiry timer. */
  add(handle: Handle<D>): void {
    this.#handles.add(handle);
    this.arm(handle);
  }

  /** Stops tracking `handle`: timer and observer go. Returns whether it was tracked. */
  delete(handle: Handle<D>): boolean {
    const had = this.#handles.delete(handle);
    this.#observers.delete(handle);
    const armed = this.#expiry.get(handle);
    if (armed !== undefined) clearTimeout(armed.timer);
    this.#expiry.delete(handle);
    return had;
  }

  observe(handle: Handle<D>, observer: RenewObserver): void {
    this.#observers.set(handle, observer);
  }

  unobserve(handle: Handle<D>): void {
    this.#observers.delete(handle);
  }

  /** Tells `handle`'s observer (if any); a throwing observer never disturbs the caller. */
  notify(handle: Handle<D>, event: (observer: RenewObserver) => void): void {
    const observer = this.#observers.get(handle);
    if (observer === undefined) return;
    try {
      event(observer);
    } catch {
      // ignored on purpose: observers are for metrics and logs
    }
  }

  /**
   * (Re-)arms the expiry timer after `validUntil` changed.
   *
   * A renewal that moves `validUntil` later keeps the timer: when it fires it sees the new
   * deadline and waits again. So a watchdog tick costs no timer operation per renewed lock (one
   * re-arm per TTL instead of a clearTimeout/setTimeout pair per renewal); only a deadline that
   * moves earlier (a renew to a shorter TTL) re-arms at once.
   */
  arm(handle: Handle<D>): void {
    const armed = this.#expiry.get(handle);
    if (armed !== undefined && armed.at <= handle.validUntil) return;
    if (armed !== undefined) clearTimeout(armed.timer);
    this.#setTimer(handle);
  }

  /** Stops every timer and forgets every handle; returns the handles that were held. */
  clear(): Array<Handle<D>> {
    const held = this.all();
    for (const h of held) this.delete(h);
    return held;
  }

  #setTimer(handle: Handle<D>): void {
    const at = handle.validUntil;
    const timer = setTimeout(() => {
      if (this.#expiry.get(handle)?.timer !== timer) return;
      // Renewed meanwhile, or a deadline beyond one timer's reach (timers have 1 ms granularity:
      // within that, it is due now).
      if (handle.validUntil - this.clock.now() > 1) {
        this.#setTimer(handle);
        return;
      }
      this.onExpired(handle);
    }, timerDelay(at - this.clock.now()));
    timer.unref();
    this.#expiry.set(handle, { timer, at });
  }
}
