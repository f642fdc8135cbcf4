import { LockLostError, LockNotHeldError, LockReleasedError } from '../errors.js';
import { lossOf } from '../handle.js';
import type { LockHandle } from '../types.js';

/** What a caller of `withLock` asked for; a lease is handed over only to a caller that asks the same. */
export interface LeaseRequest {
  /** The TTL asked for (`undefined`: the lock's default). */
  readonly ttl: number | undefined;
  readonly autoRenew: boolean;
}

/** Bounds of one run of consecutive hand-overs (fairness towards other processes). */
export interface HandOverLimits {
  readonly maxHandOvers: number;
  readonly maxHandOverMs: number;
}

/** The backend operations a lease needs (the coalesced lock). */
export interface LeaseBackend {
  unlock(handle: LockHandle): Promise<void>;
  renew(handle: LockHandle, ttl?: number): Promise<void>;
}

/** Where a turn ends: the coalescing lock that handed the view out. */
export interface TurnOwner {
  /** Ends `view`'s turn: hand the lease on (when `passOn` and allowed) or give it back. */
  endTurn(view: LeaseView, passOn: boolean): Promise<void>;
}

/**
 * One backend lock held by this process and passed from one local caller to the next without
 * a release and a new acquire in between (`CoalescingLock` with hand-over). Each caller sees it
 * through its own {@link LeaseView}, whose turn ends when it is released (or lost).
 *
 * Fencing: every caller of one lease sees the same fencing token. A resource that checks tokens
 * must never see one token from two holders, so reading `fencingToken` through any view marks
 * the lease as observed, and an observed lease is never handed over: the next caller gets a
 * lock of its own, with a new token. A renewal cannot give a new token, so there is no middle way.
 */
export class SharedLease {
  /** Hand-overs so far (0 for a lease still with its first holder). */
  handOvers = 0;
  /** Someone read the fencing token: the next caller needs a fresh lock (see the class comment). */
  tokenObserved = false;
  /** Cleared when the lease no longer matches its request (extended with another TTL). */
  reusable = true;
  /** The view whose turn it is, if any. */
  current: LeaseView | undefined;
  /** Stops the watchdog renewing the backend lock; set when the lease is auto-renewed. */
  stopRenew: (() => void) | undefined;
  /** When the backend lock was acquired (monotonic ms). */
  readonly startedAt: number;
  /** Validity the backend gave at acquisition, in ms; a hand-over needs half of it left. */
  readonly leaseMs: number;
  #watching = false;
  #ended: Promise<void> | undefined;

  constructor(
    readonly backend: LockHandle,
    readonly request: LeaseRequest,
    private readonly lock: LeaseBackend,
  ) {
    this.startedAt = performance.now();
    this.leaseMs = backend.validUntil - this.startedAt;
  }

  /**
   * Starts the next turn: a view for the caller now holding the key locally (`releaseLocal`
   * gives the local key up, or hands it to the next local caller).
   */
  open(owner: TurnOwner, releaseLocal: () => void, runnerEndsTurn = false): LeaseView {
    const view = new LeaseView(this, this.handOvers > 0, owner, releaseLocal, runnerEndsTurn);
    this.current = view;
    return view;
  }

  /** Whether a caller asking for `request` may take this lease as it is. */
  suits(request: LeaseRequest): boolean {
    return this.#ended === undefined && this.backend.held && request.ttl === this.request.ttl && request.autoRenew === this.request.autoRenew;
  }

  /**
   * Whether the turn that just ended may pass the lease on: it is still surely held for at least
   * half its lease (an auto-renewed lease stays near full; a failing renewal stops hand-overs),
   * nobody read its fencing token, and this run of hand-overs is within `limits`.
   */
  mayHandOver(limits: HandOverLimits, now: number): boolean {
    return (
      this.#ended === undefined &&
      this.reusable &&
      !this.tokenObserved &&
      this.request.autoRenew &&
      this.backend.held &&
      this.handOvers < limits.maxHandOvers &&
      now - this.startedAt < limits.maxHandOverMs &&
      this.backend.validUntil - now >= this.leaseMs / 2
    );
  }

  /** Whether this run of hand-overs reached a fairness bound (then other processes get a turn). */
  exhausted(limits: HandOverLimits, now: number): boolean {
    return this.handOvers >= limits.maxHandOvers || now - this.startedAt >= limits.maxHandOverMs;
  }

  /**
   * Follows the backend handle's signal so that a loss ends the current turn (its signal aborts)
   * at once. Started when someone listens to a view's signal: following it costs an
   * AbortController per lock. Idempotent.
   */
  watchLoss(): void {
    if (this.#watching) return;
    this.#watching = true;
    const signal = this.backend.signal;
    const onAbort = () => {
      const reason: unknown = signal.reason;
      const view = this.current;
      if (view === undefined || !(reason instanceof LockLostError)) return;
      view.finish(reason);
      void this.end().catch(() => undefined); // stops the renewals; nothing is left to unlock
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  }

  /** The loss of the backend lock, if it was lost (not released). */
  lostError(): LockLostError | undefined {
    return lossOf(this.backend);
  }

  /** Gives the backend lock back: stops renewing, unlocks it if still held. Idempotent. */
  end(): Promise<void> {
    this.#ended ??= this.#end();
    return this.#ended;
  }

  get ended(): boolean {
    return this.#ended !== undefined;
  }

  /** @internal */
  renewBackend(ttl: number | undefined): Promise<void> {
    if (ttl !== undefined) this.reusable = false;
    return this.lock.renew(this.backend, ttl);
  }

  async #end(): Promise<void> {
    this.stopRenew?.();
    this.stopRenew = undefined;
    if (this.backend.held) await this.lock.unlock(this.backend);
  }
}

/**
 * One caller's handle on a {@link SharedLease}: held from the moment its turn starts until its
 * function returns (then the lease is passed on or released) or the lease is lost.
 */
export class LeaseView implements LockHandle {
  /** When this turn started (monotonic ms). */
  readonly since = performance.now();
  // 'released' until someone asks for the error: most turns end without anyone listening, and
  // an Error (with its stack) per hand-over is a measurable share of one.
  #end: 'released' | Error | undefined;
  #controller: AbortController | undefined;

  constructor(
    readonly lease: SharedLease,
    /** Whether this caller got the lock from the previous local holder (no backend acquire). */
    readonly handedOver: boolean,
    private readonly owner: TurnOwner,
    /** Gives the local key up or hands it on (idempotent: a second call does nothing). */
    readonly releaseLocal: () => void,
    /** A runner ends this turn through `unlock()` (see `CoalescedCaller.endsTurns`). */
    readonly runnerEndsTurn = false,
  ) {}

  get key(): string {
    return this.lease.backend.key;
  }
  get token(): string {
    return this.lease.backend.token;
  }
  /** The backend lock's token. Reading it stops hand-overs of this lease (see {@link SharedLease}). */
  get fencingToken(): bigint {
    this.lease.tokenObserved = true;
    return this.lease.backend.fencingToken;
  }
  get validUntil(): number {
    return this.lease.backend.validUntil;
  }
  get held(): boolean {
    return this.#end === undefined && this.lease.backend.held;
  }
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      const reason = this.#reasonNow();
      if (reason !== undefined) this.#controller.abort(reason);
      else this.lease.watchLoss();
    }
    return this.#controller.signal;
  }
  /** Whether the turn ended (released, handed on, or lost). */
  get ended(): boolean {
    return this.#end !== undefined;
  }
  /** The loss that ended the turn, if it was lost (does not build a release error). */
  get lostError(): LockLostError | undefined {
    return this.#end instanceof LockLostError ? this.#end : undefined;
  }
  /** Why the turn ended (`LockReleasedError` or `LockLostError`), `undefined` while it lasts. */
  get endReason(): Error | undefined {
    if (this.#end === 'released') this.#end = new LockReleasedError(this.key);
    return this.#end;
  }

  /** Ends this turn now and gives the backend lock back (the next local caller acquires anew). */
  async release(): Promise<void> {
    await this.owner.endTurn(this, false);
  }

  /** Renews the backend lock. A new `ttl` keeps this lease from being handed over. */
  async extend(ttl?: number): Promise<void> {
    this.#assertHeld();
    await this.lease.renewBackend(ttl);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.release();
    } catch (error) {
      if (!(error instanceof LockNotHeldError)) throw error;
    }
  }

  /** @internal Ends the turn (idempotent) and fires `signal` if someone listens. */
  finish(reason: 'released' | LockLostError): void {
    if (this.#end !== undefined) return;
    this.#end = reason;
    if (this.lease.current === this) this.lease.current = undefined;
    if (this.#controller !== undefined) this.#controller.abort(this.endReason);
  }

  /** @internal Throws `LockNotHeldError` unless the turn is still on. */
  assertHeld(): void {
    this.#assertHeld();
  }

  #assertHeld(): void {
    if (this.held) return;
    const lost = this.lostError !== undefined || this.lease.lostError() !== undefined;
    throw new LockNotHeldError(this.key, lost ? 'it was lost' : 'it was released');
  }

  #reasonNow(): Error | undefined {
    if (this.#end !== undefined) return this.endReason;
    if (this.lease.backend.held) return undefined;
    const reason: unknown = this.lease.backend.signal.reason;
    return reason instanceof Error ? reason : new LockReleasedError(this.key);
  }

  /** Keeps tokens out of logs, like the backend handles (logging is not a read for fencing). */
  toJSON(): object {
    return {
      key: this.key,
      token: `${this.token.slice(0, 8)}…`,
      fencingToken: this.lease.backend.fencingToken.toString(),
      state: this.held ? 'held' : this.lostError !== undefined || this.lease.lostError() ? 'lost' : 'released',
    };
  }
}
