import { LockAcquireTimeoutError } from '@dlock/core';

/** Longest single `setTimeout` (larger delays fire at once). */
export const MAX_TIMER = 2_147_483_647;

interface Waiter {
  readonly take: (slot: Slot) => void;
}

interface WaitOptions {
  signal?: AbortSignal | undefined;
  waitTimeout?: number | undefined;
}

interface NameSlots {
  /** `used[i]`: slot i is taken. */
  readonly used: boolean[];
  inUse: number;
  /** Slots callers may take now: 1 until {@link QueueSlots.widen}, then the full size. */
  limit: number;
  /** Callers waiting for a slot, in arrival order (a `Set` iterates in insertion order). */
  readonly waiters: Set<Waiter>;
  /** Grants so far: the next grant's turn number. */
  granted: number;
  /** The turn whose put may go now (all earlier ones are done). */
  turn: number;
  /** Turns done before their predecessors (given up early). */
  readonly doneEarly: Set<number>;
  /** Callers waiting for their turn, by turn number. */
  readonly turnWaiters: Map<number, () => void>;
}

/**
 * A slot of one name. Its turn orders the puts: etcd orders the queue by create revision, so
 * for this instance's callers to be served in the order they came, each one's put must be
 * committed before the next one's is sent ({@link QueueSlots.waitTurn}, {@link Slot.turnDone}).
 */
export interface Slot {
  readonly index: number;
  /** Frees the slot (hands it to the oldest waiter) and ends the turn if still open. Idempotent. */
  readonly release: () => void;
  /** Our put is committed (or given up): the next caller may put. Idempotent. */
  readonly turnDone: () => void;
  /** @internal */
  readonly turn: number;
}

/**
 * Per lock name, up to `size` numbered slots; a caller takes the lowest free one, or waits in
 * arrival order. A name starts with one slot and gets all `size` once {@link widen}ed (EtcdMutex
 * does that when another instance's key shows up in the name's queue); it starts narrow again
 * when nobody of this instance uses it any more. `EtcdMutex` names its queue key after the slot (with the lease), so one instance has at
 * most `size` keys queued per name in etcd and a key name is never used by two callers at once.
 *
 * As in `KeyedMutex`, every step that reads and changes the map (take or enqueue; hand over or
 * free) is synchronous, so a slot can never be handed to two callers.
 */
export class QueueSlots {
  readonly #names = new Map<string, NameSlots>();

  constructor(readonly size: number) {}

  /** Slots of `name` in use now. */
  inUse(name: string): number {
    return this.#names.get(name)?.inUse ?? 0;
  }

  /** Slot 0 when nobody of this instance uses `name` at all (tryLock: no local holder or waiter); else `null`. */
  tryTakeIdle(name: string): Slot | null {
    if (this.#names.has(name)) return null;
    return this.#take(name, this.#slots(name));
  }

  /**
   * Resolves to a slot of `name`, waiting in arrival order while all are taken. Rejects with
   * `signal.reason` on abort and with `LockAcquireTimeoutError` after `waitTimeout` ms; a
   * rejected caller leaves the queue.
   */
  async take(name: string, options: WaitOptions = {}): Promise<Slot> {
    const { signal, waitTimeout } = options;
    signal?.throwIfAborted();
    const slots = this.#slots(name);
    if (slots.inUse < slots.limit && slots.waiters.size === 0) return this.#take(name, slots);
    if (waitTimeout === 0) throw new LockAcquireTimeoutError(name, 0);
    return waitFor<Slot>(name, options, (resolve) => {
      const self: Waiter = { take: resolve };
      slots.waiters.add(self);
      return () => {
        if (!slots.waiters.delete(self)) return false; // already handed a slot: it is ours
        this.#dropIfIdle(name, slots);
        return true;
      };
    });
  }

  /** Opens all `size` slots of `name` (while it is in use) and hands the new ones to waiting callers, oldest first. */
  widen(name: string): void {
    const slots = this.#names.get(name);
    if (slots === undefined || slots.limit === this.size) return;
    slots.limit = this.size;
    for (const waiter of slots.waiters) {
      if (slots.inUse >= slots.limit) break;
      slots.waiters.delete(waiter);
      waiter.take(this.#take(name, slots));
    }
  }

  /**
   * Resolves when every caller of `name` granted a slot before `slot` has finished its put.
   * Rejects like {@link take} on abort or timeout (the caller then releases the slot).
   */
  waitTurn(name: string, slot: Slot, options: WaitOptions = {}): Promise<void> {
    const slots = this.#names.get(name);
    if (slots === undefined || slots.turn === slot.turn) return Promise.resolve();
    return waitFor<void>(name, options, (resolve) => {
      slots.turnWaiters.set(slot.turn, resolve);
      return () => slots.turnWaiters.delete(slot.turn);
    });
  }

  #slots(name: string): NameSlots {
    let slots = this.#names.get(name);
    if (slots === undefined) {
      slots = { used: [], inUse: 0, limit: 1, waiters: new Set(), granted: 0, turn: 0, doneEarly: new Set(), turnWaiters: new Map() };
      this.#names.set(name, slots);
    }
    return slots;
  }

  #take(name: string, slots: NameSlots): Slot {
    let index = 0;
    while (slots.used[index] === true) index++;
    slots.used[index] = true;
    slots.inUse++;
    return this.#grant(name, slots, index);
  }

  /** A slot handed out now: its turn is the next in grant order (synchronous, so FIFO). */
  #grant(name: string, slots: NameSlots, index: number): Slot {
    const turn = slots.granted++;
    let turnOpen = true;
    let held = true;
    const turnDone = (): void => {
      if (!turnOpen) return;
      turnOpen = false;
      this.#endTurn(slots, turn);
    };
    const release = (): void => {
      if (!held) return;
      held = false;
      turnDone();
      const next = slots.waiters.values().next();
      if (!next.done) {
        slots.waiters.delete(next.value);
        next.value.take(this.#grant(name, slots, index));
        return;
      }
      slots.used[index] = false;
      slots.inUse--;
      this.#dropIfIdle(name, slots);
    };
    return { index, turn, release, turnDone };
  }

  #endTurn(slots: NameSlots, turn: number): void {
    slots.doneEarly.add(turn);
    while (slots.doneEarly.delete(slots.turn)) slots.turn++;
    const next = slots.turnWaiters.get(slots.turn);
    if (next !== undefined) {
      slots.turnWaiters.delete(slots.turn);
      next();
    }
  }

  #dropIfIdle(name: string, slots: NameSlots): void {
    if (slots.inUse === 0 && slots.waiters.size === 0 && this.#names.get(name) === slots) this.#names.delete(name);
  }
}

/**
 * Waits for `register`'s resolve to be called, or rejects on abort / after `waitTimeout` ms if the
 * returned `leave` says the caller was still waiting (and has now left). Keeps no timer or
 * listener once settled.
 */
async function waitFor<T>(name: string, options: WaitOptions, register: (resolve: (value: T) => void) => () => boolean): Promise<T> {
  const { signal, waitTimeout } = options;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await new Promise<T>((resolve, reject) => {
      const leave = register(resolve);
      const giveUp = (reason: unknown): void => {
        if (leave()) reject(reason);
      };
      if (signal !== undefined) {
        onAbort = () => giveUp(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
      }
      // Beyond the longest timer (~24.8 days) the caller's own deadline check takes over.
      if (waitTimeout !== undefined && waitTimeout <= MAX_TIMER) {
        timer = setTimeout(() => giveUp(new LockAcquireTimeoutError(name, waitTimeout)), waitTimeout);
      }
    });
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
  }
}
