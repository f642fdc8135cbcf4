import { timerDelay } from '../sleep.js';
import type { Claim } from './driver.js';

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
 * Tickets may carry the {@link Claim} they wait for (read-write locks, semaphores): then one
 * release may admit several, and {@link notify} wakes the group the release may admit, in queue
 * order: every `shared` ticket up to the first other one (readers queued together enter
 * together), or `permits` tickets while their sum stays within `limit` (as many as could fit;
 * the first that would not fit stops the group, so a large request is never overtaken by a later
 * small one). An `exclusive` ticket is a group of one. Whether a woken ticket is really admitted
 * is the server's decision (its wait list orders every process); the queue only bounds the
 * attempts one release causes. A server that knows whom a release admits names them instead
 * ({@link notify} with tokens): exactly those tickets are woken, and the others stay asleep.
 *
 * Every step that reads and changes a queue is synchronous: no `await` between looking up a
 * ticket and waking, granting or removing it, so a grant can never reach two tickets.
 */
export class KeyQueue<G = unknown> {
  readonly #queues = new Map<string, Array<QueueTicket<G>>>();
  readonly #pending = new Set<string>();
  /** Per key, the names of the last release that found none of them queued here (see #keepNamed). */
  readonly #named = new Map<string, string | readonly string[]>();
  /**
   * Per key, the {@link epoch} of the last unnamed release that found nobody queued here: the
   * newest at least {@link MAX_NAMED_KEYS} keys, in two generations (a full one is dropped as a
   * whole when the next fills: every uncontended release passes here, and this costs one `set`).
   */
  #unheard = new Map<string, number>();
  #unheardBefore = new Map<string, number>();
  #epoch = 0;
  #seq = 0;

  /**
   * A count of the unnamed releases that found nobody queued: read it before an attempt and pass
   * it to {@link enqueue}, so that a release that came while the attempt was on its way (and may
   * not be in its answer) wakes the ticket at once.
   */
  get epoch(): number {
    return this.#epoch;
  }

  /**
   * Joins the queue of `key`; the ticket stays in place across sleeps until it leaves. `since`:
   * the {@link epoch} read before the caller's attempt; a release of the key after it, or one
   * that named `token`, ends the ticket's first sleep at once.
   */
  enqueue(key: string, claim?: Claim, token?: string, since?: number): QueueTicket<G> {
    let queue = this.#queues.get(key);
    if (queue === undefined) {
      queue = [];
      this.#queues.set(key, queue);
    }
    const ticket = new QueueTicket<G>(this, key, ++this.#seq, claim, token);
    queue.push(ticket);
    const named = this.#named.get(key);
    if (named !== undefined && token !== undefined && (named === token || (typeof named !== 'string' && named.includes(token)))) {
      this.#named.delete(key);
      ticket.missed = true;
    }
    const unheard = since === undefined ? undefined : (this.#unheard.get(key) ?? this.#unheardBefore.get(key));
    if (unheard !== undefined && unheard > since!) ticket.missed = true;
    return ticket;
  }

  /** The {@link QueueTicket.seq} of the newest ticket (of any key); 0 before the first. */
  get lastSeq(): number {
    return this.#seq;
  }

  /** Number of tickets queued on `key`. */
  queued(key: string): number {
    return this.#queues.get(key)?.length ?? 0;
  }

  /** Number of keys with at least one ticket. */
  get keys(): number {
    return this.#queues.size;
  }

  /** The tickets of `key`, oldest first (empty when none). */
  tickets(key: string): ReadonlyArray<QueueTicket<G>> {
    return this.#queues.get(key) ?? NO_TICKETS;
  }

  /** The oldest ticket of `key`, or the oldest that `accept`s. */
  first(key: string, accept?: (ticket: QueueTicket<G>) => boolean): QueueTicket<G> | undefined {
    const queue = this.#queues.get(key);
    if (queue === undefined) return undefined;
    return accept === undefined ? queue[0] : queue.find(accept);
  }

  /**
   * A release of `key` was observed: wake the first sleeping ticket and, when tickets carry
   * claims, the sleepers the same release may admit with it (see the class comment). When nobody
   * was asleep, the release is remembered for the next ticket that goes to sleep. A ticket with a
   * claim that is awake (mid-attempt) is told too: its attempt may have been answered before this
   * release, and the server's order may admit it rather than the woken ones, so its next sleep
   * ends at once. With `next` (the token, or tokens, of the callers the server admits after this
   * release) only those are told (woken, or, mid-attempt, their next sleep ends at once), and nobody else.
   */
  notify(key: string, next?: string | readonly string[]): void {
    const queue = this.#queues.get(key);
    if (queue === undefined) {
      if (next !== undefined) this.#keepNamed(key, next);
      else this.#keepUnheard(key);
      return;
    }
    if (next !== undefined) {
      if (typeof next === 'string') this.#notifyNext(queue, next);
      else this.#notifyNamed(queue, next);
      return;
    }
    let woke = false;
    let grouping = true;
    let kind: Claim['kind'] | undefined;
    let used = 0;
    let limit = 0;
    for (const t of queue) {
      const c = t.claim;
      if (!t.sleeping) {
        if (c !== undefined && !t.granted) t.missed = true;
        continue;
      }
      if (!grouping) continue;
      if (!woke) {
        woke = true;
        t.wake();
        if (c === undefined) break; // a mutex: one release, one waiter
        kind = c.kind;
        if (c.kind === 'permits') {
          used = c.permits;
          limit = c.limit;
        }
        grouping = c.kind !== 'exclusive';
        continue;
      }
      if (c === undefined || c.kind !== kind || (c.kind === 'permits' && used + c.permits > limit)) {
        grouping = false;
        continue;
      }
      if (c.kind === 'permits') used += c.permits;
      t.wake();
    }
    if (!woke) this.#pending.add(key);
  }

  /**
   * A release whose next holder the server named (a wait list's first caller, by token): wake
   * that ticket if it is queued here, or, when it is mid-attempt, end its next sleep at once (the
   * attempt may have been refused just before the release). A release for a caller of another
   * process wakes nobody here, and is not kept as pending: our callers are behind it.
   */
  #notifyNext(queue: ReadonlyArray<QueueTicket<G>>, next: string): void {
    const ticket = queue.find((t) => t.token === next);
    if (ticket === undefined) {
      this.#keepNamed(queue[0]!.key, next);
      return;
    }
    if (ticket.sleeping) ticket.wake();
    else if (!ticket.granted) ticket.missed = true;
  }

  /**
   * A release after which the server admits exactly the callers `next` (by token, in its queue
   * order; empty: nobody): each of them that is queued here is told as by {@link #notifyNext},
   * and nobody else. Like a single name, it is not kept as pending.
   */
  #notifyNamed(queue: ReadonlyArray<QueueTicket<G>>, next: readonly string[]): void {
    if (next.length === 0) return;
    if (next.length === 1) return this.#notifyNext(queue, next[0]!);
    const named = new Set(next);
    for (const t of queue) {
      if (t.token === undefined || !named.delete(t.token)) continue;
      if (t.sleeping) t.wake();
      else if (!t.granted) t.missed = true;
    }
    if (named.size > 0) this.#keepNamed(queue[0]!.key, [...named]);
  }

  /**
   * A release nobody here was queued for: callers whose attempt is on its way may have been
   * answered before it. Its epoch is kept per key in two generations (a caller's window is one
   * round trip, far shorter than {@link MAX_NAMED_KEYS} releases of other keys).
   */
  #keepUnheard(key: string): void {
    if (this.#unheard.size >= MAX_NAMED_KEYS) {
      this.#unheardBefore = this.#unheard;
      this.#unheard = new Map();
    }
    this.#unheard.set(key, ++this.#epoch);
  }

  /**
   * Names of a release that found no ticket here: the caller may be ours, with its attempt
   * answered (it joined the server's line) but not yet queued here, since a release message can
   * overtake the attempt's answer on another connection. {@link enqueue} of that token finds the
   * name and the ticket's first sleep ends at once. Most names are other processes' callers:
   * one entry per key, the latest, and at most {@link MAX_NAMED_KEYS} keys.
   */
  #keepNamed(key: string, next: string | readonly string[]): void {
    if (typeof next !== 'string' && next.length === 0) return;
    this.#named.delete(key);
    if (this.#named.size >= MAX_NAMED_KEYS) this.#named.delete(this.#named.keys().next().value!);
    this.#named.set(key, next);
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

const NO_TICKETS: ReadonlyArray<never> = Object.freeze([]);

/** How many keys {@link KeyQueue} remembers unmatched release names for (the oldest go first). */
const MAX_NAMED_KEYS = 1_024;

/** One waiter's place in a key's queue. */
export class QueueTicket<G = unknown> {
  /** Set when a notification woke this ticket and it has not tried again since. */
  woken = false;
  /** Set once the waiter holds a place in the server's wait list (see `DriverFeatures.turns`). */
  placed = false;
  /** Set once it left the queue. */
  left = false;
  /** @internal A release came while this ticket (with a claim) was awake: its next sleep ends at once. */
  missed = false;
  #wake: (() => void) | undefined;
  #grant: Promise<G | null> | undefined;
  /** A value granted directly (no promise: a keyed mutex's hand-off costs no extra hop). */
  #granted: { readonly value: G } | undefined;

  constructor(
    private readonly owner: KeyQueue<G>,
    readonly key: string,
    /** Its order among every ticket of the queue: later tickets have higher numbers. */
    readonly seq: number,
    /** What the waiter asks for, when the queue wakes by claim (see {@link KeyQueue}). */
    readonly claim?: Claim,
    /** The waiter's token, by which a release that names the next holder finds it. */
    readonly token?: string,
  ) {}

  /** Whether the ticket sleeps right now (a notification or a grant would wake it). */
  get sleeping(): boolean {
    return this.#wake !== undefined;
  }

  /** Whether a grant was promised to this ticket (see {@link reserve}) and not taken yet. */
  get granted(): boolean {
    return this.#grant !== undefined || this.#granted !== undefined;
  }

  /**
   * Sleeps until a notification, a grant, `ms` elapse, or `signal` aborts (rejects with its
   * reason). A ticket that was granted something meanwhile returns at once; once a grant woke
   * the ticket, a later abort changes nothing (the grant is the waiter's).
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.#grant !== undefined || this.#granted !== undefined) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.missed || this.owner.takePending(this.key)) {
      this.missed = false;
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
      // A longer sleep simply ends early: the waiter checks its state and sleeps again. A sleep
      // without end (a keyed-mutex waiter without waitTimeout) needs no timer at all.
      const timer =
        ms === Infinity
          ? undefined
          : setTimeout(() => {
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
    this.#granted = { value };
    this.wake();
  }

  /** The value {@link grant}ed to this ticket, taken synchronously; `undefined` when none. */
  takeGranted(): G | undefined {
    const granted = this.#granted;
    this.#granted = undefined;
    return granted?.value;
  }

  /** The value granted to this ticket (awaited), or `null` when none was promised or it fell through. */
  takeGrant(): Promise<G | null> {
    const granted = this.#granted;
    if (granted !== undefined) {
      this.#granted = undefined;
      return Promise.resolve(granted.value);
    }
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
