import { timerDelay } from './sleep.js';

/**
 * The local side of waiting: per key, the `lock()` calls of this instance queue in arrival
 * order. A release notification wakes the first sleeping waiter only, so one release costs one
 * retry per process instead of a stampede. A notification that finds nobody asleep (the waiters
 * are mid-attempt) is kept as `pending` and consumed by the next waiter that goes to sleep, so
 * a release that races an attempt is never lost.
 */
export class ReleaseWaiters {
  readonly #queues = new Map<string, WaitTicket[]>();
  readonly #pending = new Set<string>();

  /** Joins the queue of `key`; the ticket stays in place across sleeps until `leave()`. */
  enqueue(key: string): WaitTicket {
    let queue = this.#queues.get(key);
    if (queue === undefined) {
      queue = [];
      this.#queues.set(key, queue);
    }
    const ticket = new WaitTicket(this, key);
    queue.push(ticket);
    return ticket;
  }

  /** Number of waiters queued on `key`. */
  queued(key: string): number {
    return this.#queues.get(key)?.length ?? 0;
  }

  /**
   * The first sleeping waiter of `key` that can take the lock straight from its holder (it has an
   * `offer`), now woken and waiting for its grant; `undefined` when there is none.
   */
  claim<T>(key: string): HandOverClaim<T> | undefined {
    const ticket = this.#queues.get(key)?.find((t) => t.sleeping);
    if (ticket?.offer === undefined) return undefined;
    return { ticket, offer: ticket.offer, settle: ticket.claim<T>() };
  }

  /** A release of `key` was observed: wake the first sleeping waiter (or remember it). */
  notify(key: string): void {
    const queue = this.#queues.get(key);
    if (queue === undefined) return;
    const sleeper = queue.find((t) => t.sleeping);
    if (sleeper === undefined) this.#pending.add(key);
    else sleeper.wake();
  }

  /** Wakes every waiter of every key (close(): they re-check state and fail). */
  wakeAll(): void {
    for (const queue of this.#queues.values()) for (const t of queue) t.wake();
  }

  /** @internal */
  takePending(key: string): boolean {
    return this.#pending.delete(key);
  }

  /** @internal */
  remove(ticket: WaitTicket): void {
    const queue = this.#queues.get(ticket.key);
    if (queue === undefined) return;
    const i = queue.indexOf(ticket);
    if (i >= 0) queue.splice(i, 1);
    if (queue.length === 0) {
      this.#queues.delete(ticket.key);
      this.#pending.delete(ticket.key);
    }
  }
}

/** A sleeping waiter picked by a releasing holder to take the lock over (see `ReleaseWaiters.claim`). */
export interface HandOverClaim<T> {
  readonly ticket: WaitTicket;
  readonly offer: { readonly token: string; readonly ttl: number };
  /** Delivers the handed-over lock, or `null` when the hand-over did not happen. Call exactly once. */
  readonly settle: (granted: T | null) => void;
}

/** One waiter's place in a key's queue. */
export class WaitTicket {
  /** Set when a notification woke this ticket and it has not retried since. */
  woken = false;
  /** The waiter's own token and TTL, so a releasing holder of this instance can hand it the lock. */
  offer: { readonly token: string; readonly ttl: number } | undefined;
  /** Set once it left the queue. */
  left = false;
  #wake: (() => void) | undefined;
  #grant: Promise<unknown> | undefined;

  constructor(
    private readonly owner: ReleaseWaiters,
    readonly key: string,
  ) {}

  get sleeping(): boolean {
    return this.#wake !== undefined;
  }

  /**
   * Sleeps until a release notification, `ms` elapse, or `signal` aborts (rejects with its reason).
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.owner.takePending(this.key)) {
      this.woken = true;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const finish = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#wake = undefined;
      };
      const onAbort = () => {
        finish();
        reject(signal?.reason);
      };
      const timer = setTimeout(() => {
        finish();
        resolve();
      }, timerDelay(ms)); // a longer sleep simply ends early: the waiter retries, then sleeps again
      this.#wake = () => {
        finish();
        this.woken = true;
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** @internal */
  wake(): void {
    this.#wake?.();
  }

  /** @internal Wakes this waiter to wait for a hand-over; the returned function delivers the lock or `null`. */
  claim<T>(): (granted: T | null) => void {
    let settle!: (granted: T | null) => void;
    this.#grant = new Promise<T | null>((resolve) => (settle = resolve));
    this.wake();
    return settle;
  }

  /**
   * After a sleep: the lock a releasing holder handed over (awaited), or `null` when none was
   * offered or the hand-over failed (then the waiter tries by itself as usual).
   */
  async takeGrant<T>(): Promise<T | null> {
    const grant = this.#grant as Promise<T | null> | undefined;
    if (grant === undefined) return null;
    this.#grant = undefined;
    return grant;
  }

  /**
   * Leaves the queue. A waiter that was woken but gives up without acquiring (abort, timeout)
   * passes the wake-up on, so the release it consumed still reaches the next waiter.
   */
  leave(acquired: boolean): void {
    this.left = true;
    this.owner.remove(this);
    if (this.woken && !acquired) this.owner.notify(this.key);
  }
}
