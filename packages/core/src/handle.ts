import { LockLostError, LockNotHeldError, LockReleasedError } from './errors.js';
import type { HeldLock } from './engine/driver.js';
import type { LockHandle } from './types.js';

export type { HeldLock } from './engine/driver.js';

/** The lock instance a handle belongs to. */
export interface HandleOwner {
  unlock(handle: LockHandle): Promise<void>;
  renew(handle: LockHandle, ttl?: number): Promise<void>;
}

type HandleState = 'held' | 'released' | 'lost';

/**
 * The handle `tryLock()`/`lock()` return. State changes only through the owning lock
 * (`markReleased`, `markLost`, `refresh`), which also fires `signal` exactly once.
 */
export class Handle<D = unknown> implements LockHandle, HeldLock<D> {
  #state: HandleState = 'held';
  #validUntil: number;
  #ttl: number;
  // Created on first `signal` access: most handles are released without anyone listening, and
  // an AbortController plus an Error with its stack per handle is a measurable share of a
  // lock+unlock round trip.
  #controller: AbortController | undefined;
  #lostError: LockLostError | undefined;
  /** @internal How many local hand-overs in a row led to this handle (0: acquired by itself). */
  handOvers = 0;
  /**
   * @internal With a driver that has `turns`: the local waiters of this key queued up to this
   * sequence number (see `QueueTicket.seq`) take the key before it goes to the next in line.
   */
  turnUntil = 0;

  constructor(
    readonly owner: HandleOwner,
    readonly key: string,
    readonly token: string,
    readonly fencingToken: bigint,
    ttl: number,
    validUntil: number,
    readonly data: D,
  ) {
    this.#ttl = ttl;
    this.#validUntil = validUntil;
  }

  get validUntil(): number {
    return this.#validUntil;
  }
  get ttl(): number {
    return this.#ttl;
  }
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#state !== 'held') this.#controller.abort(this.#reason());
    }
    return this.#controller.signal;
  }
  /** @internal The loss that ended this handle, if it was lost (reads no `signal`). */
  get lostError(): LockLostError | undefined {
    return this.#lostError;
  }
  get held(): boolean {
    return this.#state === 'held';
  }
  get state(): HandleState {
    return this.#state;
  }

  release(): Promise<void> {
    return this.owner.unlock(this);
  }

  extend(ttl?: number): Promise<void> {
    return this.owner.renew(this, ttl);
  }

  /**
   * `await using` support: releases if still held. A lock that is already gone (released, or
   * lost and reported through `signal`) is not an error here; a backend failure is.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#state !== 'held') return;
    try {
      await this.release();
    } catch (error) {
      if (!(error instanceof LockNotHeldError)) throw error;
    }
  }

  /** @internal A renew succeeded: new TTL and deadline. */
  refresh(ttl: number, validUntil: number): void {
    this.#ttl = ttl;
    this.#validUntil = validUntil;
  }

  /** @internal */
  markReleased(): boolean {
    if (this.#state !== 'held') return false;
    this.#state = 'released';
    this.#controller?.abort(this.#reason());
    return true;
  }

  /** @internal Returns false if the handle was not held any more (nothing fired). */
  markLost(error: LockLostError): boolean {
    if (this.#state !== 'held') return false;
    this.#state = 'lost';
    this.#lostError = error;
    this.#controller?.abort(error);
    return true;
  }

  #reason(): Error {
    return this.#lostError ?? new LockReleasedError(this.key);
  }

  /** Keeps tokens out of logs: only the first 8 hex characters are shown. */
  toJSON(): object {
    return {
      key: this.key,
      token: `${this.token.slice(0, 8)}…`,
      fencingToken: this.fencingToken.toString(),
      state: this.#state,
    };
  }
}

/**
 * The `LockLostError` of a handle that is no longer held, if it was lost (not released). A
 * core {@link Handle} answers from its state: reading `signal` would build an AbortController
 * and a `LockReleasedError` (with its stack) for every released handle, a third of a local turn.
 */
export function lossOf(handle: LockHandle): LockLostError | undefined {
  if (handle instanceof Handle) return handle.lostError;
  if (handle.held) return undefined;
  const reason: unknown = handle.signal.reason;
  return reason instanceof LockLostError ? reason : undefined;
}
