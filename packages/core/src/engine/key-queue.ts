import { timerDelay } from '../sleep.js';

/**
 * The one per-key FIFO of local waiters, used by every waiting path in dlock: the engine's
 * `lock()` (woken by release notifications, handed locks by a releasing holder), the keyed
 * mutex (handed the key directly) and etcd's local queue slots.
 *
 * Per key, tickets queue in arrival order and keep their place across sleeps until they
 * {@link QueueTicket.leave}. {@link notify} wakes the first sleeping ticket only, so one
 * release costs one retry per process instead of a stampede; a notification that finds nobody
 * asleep (the waiters are mid-attempt) is kept as pending and consumed by the next ticket that
 * goes to sleep, so a release that races an attempt is never lost. {@link QueueTicket.grant}
 * hands a ticket a value (a lock, a slot, the key itself) directly.
 *
 * Every step that reads and changes a queue is synchronous: no `await` between looking up a
 * ticket and waking, granting or removing it, so a grant can never reach two tickets.
 */
export class KeyQueue<G = unknown> {
  readonly #queues = new Map<string, Array<QueueTicket<G>>>();
  readonly #pending = new Set<string>();

  /** Joins the queue of `key`; the ticket stays in place across sleeps until it leaves. */
  enqueue(key: string): QueueTicket<G> {
    let queue = this.#queues.get(key);
    if (queue === undefined) {
      queue = [];
      this.#queues.set(key, queue);
    }
    const ticket = new QueueTicket<G>(this, key);
    queue.push(ticket);
    return ticket;
  }

  /** Number of tickets queued on `key`. */
  queued(key: string): number {
    return this.#queues.get(key)?.length ?? 0;
  }

  /** Number of keys with at least one ticket. */
  get keys(): number {
    return this.#queues.size;
  }

  /** The oldest ticket of `key`, or the oldest that `accept`s. */
  first(key: string, accept?: (ticket: QueueTicket<G>) => boolean): QueueTicket<G> | undefined {
    const queue = this.#queues.get(key);
    if (queue === undefined) return undefined;
    return accept === undefined ? queue[0] : queue.find(accept);
  }

  /** A release of `key` was observed: wake the first sleeping ticket (or remember it for the next sleeper). */
  notify(key: string): void {
    const queue = this.#queues.get(key);
    if (queue === undefined) return;
    const sleeper = queue.find((t) => t.sleeping);
    if (sleeper === undefined) this.#pending.add(key);
    else sleeper.wake();
  }

  /** Wakes every ticket of every key (close(): they re-check state and fail). */
  wakeAll(): void {
    for (const queue of this.#queues.values()) for (const t of queue) t.wake();
  }

  /** @internal */
  takePending(key: string): boolean {
    return this.#pending.delete(key);
  }

  /** @internal */
  remove(ticket: QueueTicket<G>): void {
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

/** One waiter's place in a key's queue. */
export class QueueTicket<G = unknown> {
  /** Set when a notification woke this ticket and it has not tried again since. */
  woken = false;
  /** Set once it left the queue. */
  left = false;
  #wake: (() => void) | undefined;
  #grant: Promise<G | null> | undefined;

  constructor(
    private readonly owner: KeyQueue<G>,
    readonly key: string,
  ) {}

  /** Whether the ticket sleeps right now (a notification or a grant would wake it). */
  get sleeping(): boolean {
    return this.#wake !== undefined;
  }

  /** Whether a grant was promised to this ticket (see {@link reserve}) and not taken yet. */
  get granted(): boolean {
    return this.#grant !== undefined;
  }

  /**
   * Sleeps until a notification, a grant, `ms` elapse, or `signal` aborts (rejects with its
   * reason). A ticket that was granted something meanwhile returns at once; once a grant woke
   * the ticket, a later abort changes nothing (the grant is the waiter's).
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.#grant !== undefined) return Promise.resolve();
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
      // A longer sleep simply ends early: the waiter checks its state and sleeps again.
      const timer = setTimeout(() => {
        finish();
        resolve();
      }, timerDelay(ms));
      this.#wake = () => {
        finish();
        this.woken = true;
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Ends the current sleep (if any) early. */
  wake(): void {
    this.#wake?.();
  }

  /**
   * Promises this ticket a grant and wakes it: the returned function delivers the value, or
   * `null` when the grant fell through (the waiter then goes on by itself). Call it exactly once.
   * The waiter picks it up with {@link takeGrant}.
   */
  reserve(): (granted: G | null) => void {
    let settle!: (granted: G | null) => void;
    this.#grant = new Promise<G | null>((resolve) => (settle = resolve));
    this.wake();
    return settle;
  }

  /** Hands this ticket `value` now (takes it out of the queue: it needs no more turns). */
  grant(value: G): void {
    this.owner.remove(this);
    this.left = true;
    this.reserve()(value);
  }

  /** The value granted to this ticket (awaited), or `null` when none was promised or it fell through. */
  takeGrant(): Promise<G | null> {
    const grant = this.#grant;
    if (grant === undefined) return Promise.resolve(null);
    this.#grant = undefined;
    return grant;
  }

  /**
   * Leaves the queue. A ticket that was woken by a notification but gives up without acquiring
   * (abort, timeout) passes the wake-up on, so the release it consumed still reaches the next one.
   */
  leave(acquired: boolean): void {
    if (this.left) return;
    this.left = true;
    this.owner.remove(this);
    if (this.woken && !acquired) this.owner.notify(this.key);
  }
}
